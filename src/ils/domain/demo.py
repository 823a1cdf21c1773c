"""Demo data: a platform company, an optometry practice with a year of history, and a lens lab,
with one user per role and known passwords.

:func:`seed_demo` fills a migrated database deterministically from a seed with bulk inserts, in
one transaction, in a few seconds; it refuses a database that already holds the demo.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.base import Base
from ils.domain.db import Database
from ils.domain.demo_catalog import (
    SUPPLIERS,
    examination_rows,
    patient_profiles,
    product_rows,
    supplier_rows,
)
from ils.domain.demo_history import (
    OrderPlan,
    Shop,
    history_days,
    order_history,
    purchase_orders,
)
from ils.domain.demo_oma import traced_orders
from ils.domain.models import (
    Company,
    CompanyKind,
    ConnectionStatus,
    Examination,
    Invoice,
    InvoiceLine,
    MarketplaceConnection,
    MissedRun,
    Notification,
    NotificationType,
    OmaFile,
    Order,
    OrderLine,
    OrderStatus,
    Patient,
    Payment,
    Priority,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Role,
    Schedule,
    Supplier,
    User,
)
from ils.domain.models.schedules import DEFAULT_SCHEDULES
from ils.domain.passwords import hash_password
from ils.errors import IlsJobsError

if TYPE_CHECKING:
    from ils.files import FileStorage

Row = dict[str, Any]

# key: (name, slug, kind, e-mail domain, time zone, brand colour)
COMPANIES: dict[str, tuple[str, str, CompanyKind, str, str, str]] = {
    "platform": ("ILS Platform", "ils-platform", CompanyKind.platform, "ils-platform.example",
                 "UTC", "#1f5f8b"),
    "practice": ("Brightview Opticians", "brightview-opticians", CompanyKind.practice,
                 "brightview.example", "Europe/London", "#2a7f62"),
    "lab": ("Precision Lens Lab", "precision-lens-lab", CompanyKind.lab,
            "precisionlens.example", "Europe/London", "#6b3fa0"),
}  # fmt: skip
USERS: tuple[tuple[str, Role, str], ...] = (
    ("platform", Role.platform_admin, "Priya Raman"),
    ("practice", Role.admin, "Helen Carter"),
    ("practice", Role.optometrist, "Samuel Okafor"),
    ("practice", Role.dispenser, "Lucy Barnes"),
    ("practice", Role.staff, "Tom Fletcher"),
    ("lab", Role.company_admin, "Marcus Hale"),
    ("lab", Role.lab_technician, "Nadia Petrova"),
)


class DemoDataExists(IlsJobsError):
    """The database already holds the demo companies or users; seeding again is refused."""


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: Role
    company: str


@dataclass(frozen=True)
class DemoCredentials:
    """The demo users' logins, and how many rows of each kind were made."""

    logins: tuple[DemoLogin, ...]
    counts: Mapping[str, int]

    def for_role(self, role: Role) -> DemoLogin:
        return next(login for login in self.logins if login.role is role)


def demo_email(role: Role, company_key: str) -> str:
    return f"{role.value.replace('_', '.')}@{COMPANIES[company_key][3]}"


def demo_password(role: Role) -> str:
    return f"ils-demo-{role.value.replace('_', '-')}"


def _table(model: type[Base]) -> Table:
    return Base.metadata.tables[model.__tablename__]


async def _insert(session: AsyncSession, model: type[Base], rows: Sequence[Row]) -> list[int]:
    """Insert ``rows`` in bulk; the new ids, in the order of ``rows``."""
    if not rows:
        return []
    table = _table(model)
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list((await session.execute(stmt, list(rows))).scalars())


async def _insert_plain(session: AsyncSession, model: type[Base], rows: Sequence[Row]) -> None:
    if rows:
        await session.execute(insert(_table(model)), list(rows))


async def _refuse_if_seeded(session: AsyncSession) -> None:
    slugs = [company[1] for company in COMPANIES.values()]
    emails = [demo_email(role, key) for key, role, _ in USERS]
    companies = await session.scalar(select(func.count()).where(Company.slug.in_(slugs)))
    users = await session.scalar(select(func.count()).where(User.email.in_(emails)))
    if companies or users:
        raise DemoDataExists(
            "the demo data is already in this database (demo companies or users exist); "
            "seed a fresh database instead"
        )


async def _hash_passwords() -> dict[Role, str]:
    """Argon2 is slow on purpose: each distinct password is hashed once, in threads at once
    (argon2 releases the GIL)."""
    passwords = sorted({demo_password(role) for _, role, _ in USERS})
    hashes = await asyncio.gather(*(asyncio.to_thread(hash_password, p) for p in passwords))
    by_password = dict(zip(passwords, hashes, strict=True))
    return {role: by_password[demo_password(role)] for _, role, _ in USERS}


@dataclass
class _Seeding:
    """One seeding run: its steps, in order, each inserting one part of the demo in bulk."""

    session: AsyncSession
    rng: random.Random
    today: dt.date
    password_hashes: Mapping[Role, str]
    counts: dict[str, int] = field(default_factory=dict)
    company_ids: dict[str, int] = field(default_factory=dict)
    user_ids: dict[Role, int] = field(default_factory=dict)
    supplier_ids: list[int] = field(default_factory=list)
    shop: Shop | None = None
    orders: list[tuple[OrderPlan, int]] = field(default_factory=list)
    files: FileStorage | None = None
    days: list[dt.date] = field(init=False)
    opened: dt.datetime = field(init=False)

    def __post_init__(self) -> None:
        self.days = history_days(self.today - dt.timedelta(days=1))
        self.opened = dt.datetime.combine(self.days[0] - dt.timedelta(days=30), dt.time(8), dt.UTC)

    def steps(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        return [
            ("companies and users", self.companies_and_users),
            ("suppliers and products", self.catalogue),
            ("patients and examinations", self.patients),
            ("orders", self.order_history),
            ("invoices and payments", self.invoices),
            ("purchase orders", self.purchase_orders),
            ("marketplace and notifications", self.marketplace_and_notifications),
            ("traced orders (OMA files)", self.traced_orders),
        ]

    @property
    def practice(self) -> int:
        return self.company_ids["practice"]

    def the_shop(self) -> Shop:
        if self.shop is None:
            raise RuntimeError("the catalogue and patients are seeded first")
        return self.shop

    async def companies_and_users(self) -> None:
        ids = await _insert(self.session, Company, [
            {"name": name, "slug": slug, "kind": kind, "email": f"hello@{domain}", "phone": None,
             "address": None, "timezone": tz, "brand_color": colour, "created_at": self.opened}
            for name, slug, kind, domain, tz, colour in COMPANIES.values()
        ])  # fmt: skip
        self.company_ids = dict(zip(COMPANIES, ids, strict=True))
        ids = await _insert(self.session, User, [
            {"company_id": self.company_ids[key], "email": demo_email(role, key), "name": name,
             "password_hash": self.password_hashes[role], "role": role, "is_active": True,
             "created_at": self.opened, "last_login_at": None}
            for key, role, name in USERS
        ])  # fmt: skip
        self.user_ids = dict(zip((role for _, role, _ in USERS), ids, strict=True))
        # The trading companies' default schedules; a worker of the scheduled queue makes their
        # job schedulers when it starts (the demo is seeded before any process runs).
        schedules: list[dict[str, Any]] = [
            {"company_id": self.company_ids[key], "name": name, "job_type": job_type,
             "payload": {}, "cron": cron, "every_s": None, "timezone": None, "enabled": True,
             "missed_run": MissedRun.run_once, "created_at": self.opened,
             "updated_at": self.opened}
            for key, (*_, kind, _domain, _tz, _colour) in COMPANIES.items()
            if kind is not CompanyKind.platform
            for name, job_type, cron in DEFAULT_SCHEDULES
        ]  # fmt: skip
        await _insert_plain(self.session, Schedule, schedules)
        self.counts |= {"companies": len(self.company_ids), "users": len(self.user_ids),
                        "schedules": len(schedules)}  # fmt: skip

    async def catalogue(self) -> None:
        rows = supplier_rows(self.practice, self.opened)
        self.supplier_ids = await _insert(self.session, Supplier, rows)
        products = product_rows(self.rng, self.practice, self.supplier_ids, self.opened)
        ids = await _insert(self.session, Product, products)
        for product, product_id in zip(products, ids, strict=True):
            product["id"] = product_id
        staff = tuple(self.user_ids[r] for r in (Role.admin, Role.optometrist, Role.dispenser,
                                                 Role.staff))  # fmt: skip
        self.shop = Shop(self.practice, staff, (), tuple(products))
        self.counts |= {"suppliers": len(self.supplier_ids), "products": len(products)}

    async def patients(self) -> None:
        profiles = patient_profiles(self.rng, self.practice, self.today)
        ids = await _insert(self.session, Patient, [p.row for p in profiles])
        patients = tuple(zip(ids, profiles, strict=True))
        optometrist = self.user_ids[Role.optometrist]
        exams = examination_rows(self.rng, self.practice, list(patients), optometrist, self.today)
        await _insert_plain(self.session, Examination, exams)
        self.shop = replace(self.the_shop(), patients=patients)
        self.counts |= {"patients": len(patients), "examinations": len(exams)}

    async def order_history(self) -> None:
        plans = order_history(self.rng, self.the_shop(), self.days)
        ids = await _insert(self.session, Order, [plan.row for plan in plans])
        self.orders = list(zip(plans, ids, strict=True))
        lines = [{**line, "order_id": oid} for plan, oid in self.orders for line in plan.lines]
        await _insert_plain(self.session, OrderLine, lines)
        self.counts |= {"orders": len(plans), "order_lines": len(lines)}

    async def invoices(self) -> None:
        invoiced = [(plan.invoice, oid) for plan, oid in self.orders if plan.invoice is not None]
        rows = [{**invoice.row, "order_id": oid} for invoice, oid in invoiced]
        ids = await _insert(self.session, Invoice, rows)
        pairs = list(zip((invoice for invoice, _ in invoiced), ids, strict=True))
        lines = [{**line, "invoice_id": iid} for inv, iid in pairs for line in inv.lines]
        payments = [{**pay, "invoice_id": iid} for inv, iid in pairs for pay in inv.payments]
        await _insert_plain(self.session, InvoiceLine, lines)
        await _insert_plain(self.session, Payment, payments)
        self.counts |= {"invoices": len(ids), "payments": len(payments)}

    async def purchase_orders(self) -> None:
        leads = [(sid, s[2]) for sid, s in zip(self.supplier_ids, SUPPLIERS, strict=True)]
        buyer = self.user_ids[Role.admin]
        plans = purchase_orders(self.rng, self.the_shop(), leads, self.days, buyer)
        ids = await _insert(self.session, PurchaseOrder, [plan.row for plan in plans])
        lines = [{**line, "purchase_order_id": pid}
                 for plan, pid in zip(plans, ids, strict=True) for line in plan.lines]  # fmt: skip
        await _insert_plain(self.session, PurchaseOrderLine, lines)
        self.counts["purchase_orders"] = len(ids)

    async def marketplace_and_notifications(self) -> None:
        """The practice's accepted connection to the lab, and a few notifications to read."""
        requested = self.opened + dt.timedelta(days=60, hours=3)
        responded = requested + dt.timedelta(hours=5)
        admin = self.user_ids[Role.admin]
        await _insert_plain(self.session, MarketplaceConnection, [{
            "requester_company_id": self.practice, "target_company_id": self.company_ids["lab"],
            "status": ConnectionStatus.accepted, "requested_by_user_id": admin,
            "message": "We would like to send you our surfacing work.", "created_at": requested,
            "responded_by_user_id": self.user_ids[Role.company_admin], "responded_at": responded,
        }])  # fmt: skip
        waiting = sum(plan.row["status"] is OrderStatus.quality_check for plan, _ in self.orders)
        now = dt.datetime.combine(self.days[-1], dt.time(18), dt.UTC)
        notes = [
            (NotificationType.system, "Welcome to ILS", "Your practice is set up with demo data.",
             Priority.low, "/", now, None),
            (NotificationType.order, "Orders in quality check",
             f"{waiting} orders await quality check.", Priority.medium,
             "/orders?status=quality_check", now, None),
            (NotificationType.marketplace, "Connection accepted",
             "Precision Lens Lab accepted your connection request.", Priority.low,
             "/marketplace", responded, now),
        ]  # fmt: skip
        await _insert_plain(self.session, Notification, [
            {"company_id": self.practice, "user_id": admin, "type": kind, "title": title,
             "message": message, "priority": priority, "action_url": url, "job_id": None,
             "created_at": created, "read_at": read}
            for kind, title, message, priority, url, created, read in notes
        ])  # fmt: skip
        self.counts["notifications"] = len(notes)

    async def traced_orders(self) -> None:
        """A DCS file with a frame trace for a few of the newest open orders: its row, and, when
        the file storage is given, its original and its trace's SVG."""
        from ils.oma.render import render_svg

        now = dt.datetime.combine(self.days[-1], dt.time(17), dt.UTC)
        traced = traced_orders(self.rng, [(plan.row, oid) for plan, oid in self.orders], now)
        rows = []
        for one in traced:
            row = dict(one.row)
            if self.files is not None:
                self.files.put(row["path"], one.original)
                svg = self.files.put(row["path"].removesuffix(".oma") + ".svg",
                                     render_svg(one.oma).encode())  # fmt: skip
                row["svg_path"] = svg.key
            rows.append(row)
        await _insert_plain(self.session, OmaFile, rows)
        self.counts["oma_files"] = len(rows)


def _progress_bar(show: bool) -> Progress:
    return Progress(
        TextColumn("[bold]demo data[/]: {task.description:<30}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        disable=not show,
    )


async def seed_demo(
    db: Database,
    *,
    seed: int = 42,
    progress: bool = True,
    today: dt.date | None = None,
    files: FileStorage | None = None,
) -> DemoCredentials:
    """Fill the (migrated) ``db`` with the demo in one transaction; the same ``seed`` and
    ``today`` give the same data. The order history is the 365 days ending yesterday. With
    ``files``, the traced orders' OMA originals and SVGs are written there too.

    Raises :class:`DemoDataExists` when the demo is already there.
    """
    hashes = await _hash_passwords()
    day = today or dt.datetime.now(dt.UTC).date()
    async with db.session() as session:
        await _refuse_if_seeded(session)
        seeding = _Seeding(session, random.Random(seed), day, hashes, files=files)
        steps = seeding.steps()
        with _progress_bar(progress) as bar:
            task = bar.add_task(steps[0][0], total=len(steps))
            for description, run in steps:
                bar.update(task, description=description)
                await run()
                bar.advance(task)
            bar.update(task, description="done")
    return DemoCredentials(demo_logins(), dict(seeding.counts))


def demo_logins() -> tuple[DemoLogin, ...]:
    """The demo users' logins (they do not depend on the seed)."""
    return tuple(
        DemoLogin(demo_email(role, key), demo_password(role), role, COMPANIES[key][0])
        for key, role, _ in USERS
    )
