"""The demo data: what it holds, that its history looks like a business's (weekly rhythm, growth,
statuses that fit their age, invoices that add up), that it is deterministic, and that seeding
twice is refused; the ``ils demo seed`` command."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from ils.domain.cli_db import demo_app
from ils.domain.db import Database
from ils.domain.demo import DemoDataExists, seed_demo
from ils.domain.demo_catalog import patient_profiles, product_rows
from ils.domain.demo_history import Shop, history_days, order_history
from ils.domain.models import (
    Company,
    CompanyKind,
    Examination,
    Invoice,
    InvoiceStatus,
    OmaFile,
    Order,
    OrderLine,
    OrderStatus,
    Patient,
    Payment,
    Product,
    ProductKind,
    PurchaseOrder,
    Role,
    Schedule,
    User,
)
from ils.domain.passwords import verify_password
from ils.jobs.pdf.load import lab_work_ticket

TODAY = dt.date(2025, 6, 18)  # a Wednesday; the history is the 365 days before it


async def count(db: Database, model: type) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def traced_orders_show_shapes(db: Database, counted: int) -> None:
    """A few of the newest open orders carry a DCS file whose trace the lab ticket draws."""
    async with db.session() as s:
        files = list(await s.scalars(select(OmaFile)))
        statuses = {
            (await s.get(Order, f.order_id)).status
            for f in files  # type: ignore[union-attr]
        }
        ticket = await lab_work_ticket(s, files[0].order_id)
    assert counted == len(files) == 6
    assert statuses <= {OrderStatus.pending, OrderStatus.in_production, OrderStatus.quality_check}
    assert all(set(f.traces) == {"right", "left"} and f.status == "valid" for f in files)
    shape = ticket.doc.shape  # type: ignore[union-attr]
    assert shape is not None and [lens.side for lens in shape.lenses] == ["R", "L"]


async def test_seeded_demo_holds_a_believable_year(db: Database) -> None:
    credentials = await seed_demo(db, seed=42, progress=False, today=TODAY)

    async with db.session() as s:
        kinds = Counter((await s.execute(select(Company.kind))).scalars())
        roles = Counter((await s.execute(select(User.role))).scalars())
        products = Counter((await s.execute(select(Product.kind))).scalars())
    assert kinds == {CompanyKind.platform: 1, CompanyKind.practice: 1, CompanyKind.lab: 1}
    assert roles == dict.fromkeys(Role, 1)
    assert await count(db, Patient) == 50
    assert await count(db, Examination) >= 50
    assert products == {ProductKind.lens: 90, ProductKind.frame: 80, ProductKind.coating: 20,
                        ProductKind.accessory: 10}  # fmt: skip
    assert await count(db, PurchaseOrder) > 20
    assert credentials.counts["orders"] == await count(db, Order)
    assert credentials.counts["order_lines"] == await count(db, OrderLine)
    # The practice and the lab have their default schedules (the platform company none).
    assert credentials.counts["schedules"] == await count(db, Schedule) == 8
    await traced_orders_show_shapes(db, credentials.counts["oma_files"])

    async with db.session() as s:
        orders = (await s.execute(select(Order.created_at, Order.status, Order.total))).all()
    days = Counter(created.date() for created, _status, _total in orders)
    assert min(days) == TODAY - dt.timedelta(days=365)
    assert max(days) == TODAY - dt.timedelta(days=1)
    all_days = history_days(TODAY - dt.timedelta(days=1))
    weekday = [days[d] for d in all_days if d.weekday() < 5]
    weekend = [days[d] for d in all_days if d.weekday() >= 5]
    assert sum(weekday) / len(weekday) > 2 * sum(weekend) / len(weekend)
    first_quarter = sum(days[d] for d in all_days[:91])
    last_quarter = sum(days[d] for d in all_days[-91:])
    assert last_quarter > 1.2 * first_quarter

    # Statuses fit age: the old ones are finished, yesterday's are not yet delivered.
    month_ago = dt.datetime.combine(TODAY - dt.timedelta(days=30), dt.time(), dt.UTC)
    old = Counter(status for created, status, _ in orders if created < month_ago)
    assert set(old) == {OrderStatus.delivered, OrderStatus.cancelled}
    assert old[OrderStatus.cancelled] < 0.1 * old[OrderStatus.delivered]
    yesterday = {status for created, status, _ in orders if created.date() == max(days)}
    assert OrderStatus.delivered not in yesterday
    assert OrderStatus.pending in yesterday
    async with db.session() as s:  # money stays exact through SQL aggregates too
        assert await s.scalar(select(func.sum(Order.total))) == sum(
            (total for *_, total in orders), Decimal(0)
        )

    async with db.session() as s:
        # Each invoice bills its order exactly; paid invoices are covered by their payments.
        mismatched = await s.scalar(
            select(func.count()).select_from(Invoice).join(Order, Invoice.order_id == Order.id)
            .where((Invoice.total != Order.total) | (Invoice.subtotal != Order.subtotal))
        )  # fmt: skip
        paid = dict(
            (await s.execute(select(Payment.invoice_id, func.sum(Payment.amount))
                             .group_by(Payment.invoice_id))).all()
        )  # fmt: skip
        invoices = (await s.execute(select(Invoice.id, Invoice.status, Invoice.amount_paid,
                                           Invoice.total))).all()  # fmt: skip
        admin = (await s.execute(select(User).where(User.role == Role.admin))).scalar_one()
    assert mismatched == 0
    assert invoices and paid
    for invoice_id, status, amount_paid, total in invoices:
        assert paid.get(invoice_id, Decimal("0.00")) == amount_paid
        assert (status is InvoiceStatus.paid) == (amount_paid == total)
    login = credentials.for_role(Role.admin)
    assert login.email == admin.email
    assert verify_password(admin.password_hash, login.password)

    before = await count(db, Order)
    with pytest.raises(DemoDataExists, match="already in this database"):
        await seed_demo(db, seed=7, progress=False, today=TODAY)
    assert await count(db, Order) == before


def make_shop(seed: int) -> Shop:
    rng = random.Random(seed)
    products = product_rows(rng, 1, [1, 2, 3, 4, 5, 6], dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    for i, product in enumerate(products, start=1):
        product["id"] = i
    patients = tuple(enumerate(patient_profiles(rng, 1, TODAY), start=1))
    return Shop(1, (1, 2, 3), patients, tuple(products))


def test_the_history_is_deterministic_from_its_seed() -> None:
    days = history_days(TODAY - dt.timedelta(days=1))
    first = order_history(random.Random(42), make_shop(42), days)
    again = order_history(random.Random(42), make_shop(42), days)
    other = order_history(random.Random(43), make_shop(43), days)
    assert [(p.row, p.lines) for p in first] == [(p.row, p.lines) for p in again]
    assert [p.row["total"] for p in first] != [p.row["total"] for p in other]
    numbers = [p.row["number"] for p in first]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    created = [p.row["created_at"] for p in first]
    assert created == sorted(created)


def test_demo_seed_command_prints_the_logins_and_refuses_a_second_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    env = {"ILS_VAR_DIR": str(tmp_path / "var")}
    runner = CliRunner()
    app = typer.Typer()
    app.add_typer(demo_app, name="demo")  # as src/ils/cli.py registers it
    result = runner.invoke(app, ["demo", "seed", "--no-progress", "--seed", "3"], env=env)
    assert result.exit_code == 0, result.output
    assert "optometrist@brightview.example" in result.output
    assert "ils-demo-lab-technician" in result.output
    assert "200 products" in result.output
    again = runner.invoke(app, ["demo", "seed", "--no-progress"], env=env)
    assert again.exit_code == 1
    assert "already in this database" in again.output
    # what `make run` does on every start: seed once, afterwards only say how to log in
    quiet = runner.invoke(app, ["demo", "seed", "--no-progress", "--if-empty"], env=env)
    assert quiet.exit_code == 0, quiet.output
    assert "demo data already there" in quiet.output
    assert "admin@brightview.example" in quiet.output and "products" not in quiet.output
