"""Document models built in memory (no database): for rendering alone, in tests and the
benchmark."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ils.jobs.pdf.content import (
    Brand,
    EyeRx,
    Frame,
    LabTicket,
    LensSpec,
    Party,
    Rx,
)

BRAND = Brand(Party("Clearview Lab", ("12 Optic Street, Leeds", "lab@example.com")), "#aa3300")
RX = Rx(
    EyeRx(
        Decimal("-2.25"), Decimal("-0.50"), 90, Decimal("2.00"), None, None, None, Decimal("31.50")
    ),
    EyeRx(
        Decimal("-1.75"), None, None, Decimal("2.00"), Decimal("1.50"), "in", None, Decimal("31.00")
    ),
    Decimal("62.50"),
)


def sample_ticket(number: str) -> LabTicket:
    return LabTicket(
        brand=BRAND,
        number=number,
        tray="T-17",
        customer="Ελένη Παπαδοπούλου",
        created=dt.date(2026, 11, 28),
        due=dt.date(2026, 12, 24),
        rx=RX,
        frame=Frame(Decimal("52.00"), Decimal("38.50"), Decimal("18.00"), Decimal("56.00")),
        lenses=(
            LensSpec(
                "Poly 1.67 progressive", "both", "Polycarbonate", "Progressive", Decimal("1.67")
            ),
        ),
        coatings=("Anti-reflective coating",),
        frame_lines=("Titan frame 52-18",),
        instructions="Handle with care.",
    )
