"""Demand patterns (Syntetos-Boylan): the average inter-demand interval (ADI) and the squared
coefficient of variation of the sizes (CV²) split series into smooth, erratic, intermittent and
lumpy; and the cleaning of a raw history before any model sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ADI_CUT = 1.32
CV2_CUT = 0.49
# A day above both of these is a data error (a mistyped quantity), not demand.
ABSURD_FLOOR = 1_000.0
ABSURD_FACTOR = 100.0


@dataclass(frozen=True)
class Pattern:
    label: str  # smooth | erratic | intermittent | lumpy | none
    adi: float | None
    cv2: float | None
    demand_days: int


def clean(history: Sequence[float]) -> tuple[np.ndarray, int]:
    """The history with missing, negative and absurd days set to 0 (they are not demand), and
    how many days were set so."""
    y = np.asarray(history, dtype=float)
    bad = ~np.isfinite(y) | (y < 0)
    y = np.where(bad, 0.0, y)
    sold = y[y > 0]
    if len(sold):
        ceiling = max(ABSURD_FLOOR, ABSURD_FACTOR * float(np.median(sold)))
        absurd = y > ceiling
        bad |= absurd
        y = np.where(absurd, 0.0, y)
    return y, int(bad.sum())


def classify(y: np.ndarray) -> Pattern:
    """The pattern of a cleaned daily series; ``none`` with fewer than two days of demand."""
    days = np.flatnonzero(y > 0)
    if len(days) < 2:
        return Pattern("none", None, None, len(days))
    # Intervals counted from the start of the history, so a late first sale counts as sparse.
    adi = float(len(y) / len(days))
    sizes = y[days]
    cv2 = float((np.std(sizes) / np.mean(sizes)) ** 2)
    if adi < ADI_CUT:
        label = "smooth" if cv2 < CV2_CUT else "erratic"
    else:
        label = "intermittent" if cv2 < CV2_CUT else "lumpy"
    return Pattern(label, round(adi, 3), round(cv2, 3), len(days))
