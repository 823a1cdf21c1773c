"""The demo practice's stable data, made from a seeded ``random.Random``: suppliers, a catalogue
of 200 products (lenses, frames, coatings, accessories), patients and their examinations.

Pure functions returning rows (dicts for bulk inserts); :mod:`ils.domain.demo` inserts them.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ils.domain.enums import PrismBase, ProductKind
from ils.domain.models.rx import EYES
from ils.domain.models.types import to_money

Row = dict[str, Any]

# name, e-mail domain, lead time in days, what they supply
SUPPLIERS: tuple[tuple[str, str, int, frozenset[ProductKind]], ...] = (
    ("Brightwave Lens Co.", "brightwave.example", 4, frozenset({ProductKind.lens})),
    ("Clarity Surfacing Ltd", "clarity-surfacing.example", 6, frozenset({ProductKind.lens})),
    ("Northbridge Optical Supply", "northbridge.example", 3,
     frozenset({ProductKind.lens, ProductKind.coating})),
    ("Frameworks Eyewear Distribution", "frameworks.example", 7, frozenset({ProductKind.frame})),
    ("Atelier Frames Europe", "atelier-frames.example", 12, frozenset({ProductKind.frame})),
    ("OptiCare Sundries", "opticare-sundries.example", 2,
     frozenset({ProductKind.coating, ProductKind.accessory})),
)  # fmt: skip

LENS_DESIGNS = (
    ("SV", "Single vision", 40),
    ("ASV", "Aspheric single vision", 62),
    ("BF", "Bifocal", 78),
    ("PRG", "Progressive", 150),
    ("OCC", "Occupational", 110),
)
LENS_MATERIALS = (
    ("CR-39", Decimal("1.50"), Decimal("1.00")),
    ("Trivex", Decimal("1.53"), Decimal("1.25")),
    ("Polycarbonate", Decimal("1.59"), Decimal("1.20")),
    ("High-index", Decimal("1.60"), Decimal("1.35")),
    ("High-index", Decimal("1.67"), Decimal("1.70")),
    ("High-index", Decimal("1.74"), Decimal("2.30")),
)
LENS_FINISHES = (("CL", "clear", Decimal("1.0")), ("PH", "photochromic", Decimal("1.6")),
                 ("PO", "polarised", Decimal("1.5")))  # fmt: skip

FRAME_BRANDS = ("Aurelia", "Northline", "Koda", "Verso", "Halden", "Mira", "Linden", "Sable")
FRAME_SHAPES = ("Round", "Rectangle", "Square", "Cat-eye", "Aviator", "Oval", "Browline", "Pantos")
FRAME_MATERIALS = ("acetate", "titanium", "stainless steel", "TR90")
FRAME_COLOURS = ("black", "tortoise", "crystal", "gunmetal", "gold", "navy", "burgundy", "olive")

COATINGS = (
    ("Anti-reflective standard", 25), ("Anti-reflective premium", 55), ("Blue-light filter", 45),
    ("Hard coat", 15), ("UV400 protection", 18), ("Hydrophobic top coat", 20),
    ("Oleophobic top coat", 22), ("Solid tint grey", 25), ("Solid tint brown", 25),
    ("Solid tint green", 25), ("Gradient tint", 35), ("Mirror silver", 40), ("Mirror blue", 40),
    ("Mirror gold", 40), ("Anti-fog", 30), ("Scratch guard plus", 28), ("Night-drive AR", 60),
    ("Backside UV AR", 32), ("Clean-coat maintenance", 12), ("Edge polish", 14),
)  # fmt: skip

ACCESSORIES = (
    ("Hard case", 12), ("Soft pouch", 6), ("Microfibre cloth", 4), ("Lens spray 30 ml", 5),
    ("Lens spray 60 ml", 8), ("Sports cord", 9), ("Spectacle chain", 15), ("Repair kit", 7),
    ("Silicone nose pads (pair)", 3), ("Anti-fog wipes (30)", 9),
)  # fmt: skip

FIRST_NAMES = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Freya", "Lily", "Emily", "Sophie",
    "Noah", "Oliver", "George", "Arthur", "Leo", "Harry", "Oscar", "Jack", "Thomas", "James",
    "Priya", "Aisha", "Zara", "Hannah", "Ruth", "Margaret", "Eleanor", "David", "Samuel", "Omar",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Khan", "Clarke", "Hughes", "Edwards", "Lewis", "Wood", "Harris", "Martin", "Cooper", "Ward",
)  # fmt: skip
STREETS = ("High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue", "Kings Road")
TOWNS = ("Ashford", "Bramley", "Carlton", "Dunmore", "Elmsworth", "Fairhaven")
ACUITIES = ("6/5", "6/6", "6/6", "6/7.5", "6/9", "6/12")
EXAM_NOTES = (
    "Routine examination; no pathology seen.",
    "Mild dry eye: advised lubricating drops.",
    "Early lens opacity noted; monitor.",
    "Headaches with screen work; occupational lenses discussed.",
    "IOPs within normal limits.",
)


@dataclass(frozen=True)
class PatientProfile:
    """A demo patient: the row to insert, the Rx their orders use, and an address to bill."""

    row: Row
    rx: Row
    address: str


def supplier_rows(company_id: int, created_at: dt.datetime) -> list[Row]:
    return [
        {"company_id": company_id, "name": name, "email": f"orders@{domain}",
         "phone": f"0161 496 {i:04d}", "lead_time_days": lead, "created_at": created_at}
        for i, (name, domain, lead, _kinds) in enumerate(SUPPLIERS)
    ]  # fmt: skip


def _price(value: Decimal) -> Decimal:
    """A shelf price ending in .95."""
    return to_money(int(value)) + Decimal("0.95")


def _cost(rng: random.Random, price: Decimal) -> Decimal:
    return to_money(price * rng.randint(32, 52) / 100)


def _supplier_for(rng: random.Random, kind: ProductKind, supplier_ids: list[int]) -> int:
    candidates = [sid for sid, s in zip(supplier_ids, SUPPLIERS, strict=True) if kind in s[3]]
    return rng.choice(candidates)


def product_rows(
    rng: random.Random, company_id: int, supplier_ids: list[int], created_at: dt.datetime
) -> list[Row]:
    """200 products: 90 lenses, 80 frames, 20 coatings, 10 accessories, some low on stock."""
    rows: list[Row] = []

    def add(kind: ProductKind, sku: str, name: str, price: Decimal, **extra: Any) -> None:
        stock_max, threshold = {ProductKind.lens: (60, 10), ProductKind.frame: (12, 3)}.get(
            kind, (40, 8)
        )
        rows.append({
            "company_id": company_id, "sku": sku, "name": name, "kind": kind,
            "supplier_id": _supplier_for(rng, kind, supplier_ids), "price": price,
            "cost": _cost(rng, price), "stock": rng.randint(0, stock_max),
            "reorder_threshold": threshold, "material": None, "design": None,
            "lens_index": None, "active": rng.random() > 0.03, "created_at": created_at,
            **extra,
        })  # fmt: skip

    for code, design, base in LENS_DESIGNS:
        for material, index, factor in LENS_MATERIALS:
            for finish_code, finish, finish_factor in LENS_FINISHES:
                label = f"{material} {index}" if material == "High-index" else material
                add(ProductKind.lens, f"LEN-{code}-{int(index * 100)}-{finish_code}",
                    f"{design} {label} {finish}", _price(base * factor * finish_factor),
                    material=material, design=design, lens_index=index)  # fmt: skip
    for i in range(80):
        brand = FRAME_BRANDS[i // 10]
        shape, material = rng.choice(FRAME_SHAPES), rng.choice(FRAME_MATERIALS)
        add(ProductKind.frame, f"FRM-{i + 1:04d}",
            f"{brand} {shape} {rng.randint(100, 999)} {material} {rng.choice(FRAME_COLOURS)}",
            _price(Decimal(rng.randint(45, 240))), material=material)  # fmt: skip
    for i, (name, price) in enumerate(COATINGS):
        add(ProductKind.coating, f"COT-{i + 1:04d}", name, _price(Decimal(price)))
    for i, (name, price) in enumerate(ACCESSORIES):
        add(ProductKind.accessory, f"ACC-{i + 1:04d}", name, _price(Decimal(price)))
    return rows


def _quarter(value: float) -> Decimal:
    """A power rounded to the nearest quarter dioptre."""
    return (Decimal(round(value * 4)) / 4).quantize(Decimal("0.01"))


def random_rx(rng: random.Random, age: int) -> Row:
    """A plausible spectacle Rx for someone of ``age``: myopia commoner than hyperopia, an add
    from the early forties, astigmatism sometimes, prism rarely."""
    base = max(-10.0, min(6.0, rng.gauss(-0.75, 2.2)))
    add = _quarter(min(3.0, 0.75 + (age - 42) * 0.06)) if age >= 42 else None
    rx: Row = {}
    for eye in EYES:
        cylinder = -_quarter(abs(rng.gauss(0, 0.8)))
        has_prism = rng.random() < 0.03
        rx |= {
            f"{eye}_sphere": _quarter(base + rng.gauss(0, 0.35)),
            f"{eye}_cylinder": cylinder if cylinder else None,
            f"{eye}_axis": rng.randint(1, 180) if cylinder else None,
            f"{eye}_add": add,
            f"{eye}_prism": _quarter(rng.uniform(0.5, 2.0)) if has_prism else None,
            f"{eye}_prism_base": rng.choice(list(PrismBase)) if has_prism else None,
        }
    pd = Decimal(rng.randint(560, 720)) / 10
    rx |= {"pd_binocular": pd, "pd_right": None, "pd_left": None}
    if rng.random() < 0.3:  # measured per eye
        right = (pd / 2 + Decimal(rng.randint(-5, 5)) / 10).quantize(Decimal("0.1"))
        rx |= {"pd_right": right, "pd_left": pd - right}
    return rx


def patient_profiles(
    rng: random.Random, company_id: int, today: dt.date, count: int = 50
) -> list[PatientProfile]:
    profiles = []
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        age = rng.randint(6, 88)
        born = today - dt.timedelta(days=age * 365 + rng.randint(0, 364))
        registered = dt.datetime.combine(
            today - dt.timedelta(days=rng.randint(400, 2000)), dt.time(10), dt.UTC
        )
        row = {
            "company_id": company_id, "first_name": first, "last_name": last,
            "date_of_birth": born, "email": f"{first}.{last}{i}@mail.example".lower(),
            "phone": f"07700 900{rng.randint(0, 999):03d}",
            "notes": "Prefers appointments after 4pm." if rng.random() < 0.1 else None,
            "created_at": registered,
        }  # fmt: skip
        address = f"{rng.randint(1, 180)} {rng.choice(STREETS)}, {rng.choice(TOWNS)}"
        profiles.append(PatientProfile(row, random_rx(rng, age), address))
    return profiles


def _years_later(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def examination_rows(
    rng: random.Random,
    company_id: int,
    patients: list[tuple[int, PatientProfile]],
    examiner_id: int,
    today: dt.date,
) -> list[Row]:
    """One to three examinations per patient over the last two years, the latest giving the Rx
    on file; children and the over-60s are recalled after a year, others after two."""
    rows = []
    for patient_id, profile in patients:
        born: dt.date = profile.row["date_of_birth"]
        days_ago = sorted(rng.sample(range(7, 730), rng.randint(1, 3)), reverse=True)
        for n, ago in enumerate(days_ago):
            latest = n == len(days_ago) - 1
            when = today - dt.timedelta(days=ago)
            age = (when - born).days // 365
            recall_years = 1 if age < 16 or age >= 60 else 2
            rx = dict(profile.rx)
            if not latest:  # earlier exams were a little less myopic
                for eye in EYES:
                    rx[f"{eye}_sphere"] += Decimal("0.25")
            at = dt.datetime.combine(when, dt.time(9), dt.UTC) + dt.timedelta(
                minutes=30 * rng.randint(0, 16)
            )
            rows.append({
                "company_id": company_id, "patient_id": patient_id,
                "examiner_user_id": examiner_id, "examined_at": at,
                "right_va": rng.choice(ACUITIES), "left_va": rng.choice(ACUITIES),
                "notes": rng.choice(EXAM_NOTES),
                "recall_due": _years_later(when, recall_years),
                "created_at": at, **rx,
            })  # fmt: skip
    return rows
