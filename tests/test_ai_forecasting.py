"""Forecasting on generated series of known process: the classifier labels each pattern right,
the chooser picks an intermittent method for intermittent demand and beats seasonal naive on its
own holdout, the reorder quantity covers the simulated demand at the service level, and bad
histories give "not enough history" or a zero forecast, never a crash or NaN."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ils.jobs.ai.forecasting import counts, evaluate, models, reorder
from ils.jobs.ai.forecasting.classify import classify, clean
from ils.jobs.ai.forecasting.pipeline import forecast_series
from ils.jobs.ai.forecasting.summary import summarise
from tests.support.demand_processes import PATTERNS, catalogue, generate


@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_classifier_labels_each_generated_pattern(pattern: str):
    labels = [classify(clean(generate(pattern, seed).sample)[0]).label for seed in range(8)]
    assert labels == [pattern] * 8


def test_the_chooser_picks_an_intermittent_method_for_intermittent_demand():
    # Half a unit a day, a sale on about 40 % of days: a rate method, not a baseline.
    for seed in range(4):
        y = np.minimum(np.random.default_rng(seed).poisson(0.6, 300), 2).astype(float)
        result = forecast_series(list(y), 14, 14, scored=False)
        assert result["pattern"]["label"] == "intermittent"
        assert result["model"].removesuffix(models.WEEKDAY) in models.INTERMITTENT
        assert result["rate_model"] == result["model"]
        assert 0.3 < result["mean"][0] < 0.9


def test_chosen_forecasts_beat_seasonal_naive_on_a_known_catalogue():
    results = [forecast_series(list(p.sample), 14, 14) for p in catalogue(2)]
    summary = summarise(results)
    for pattern, group in summary["by_pattern"].items():
        assert group["chosen"]["mase"] < group["seasonal_naive"]["mase"], pattern
    assert summary["all"]["chosen"]["wape"] < summary["all"]["seasonal_naive"]["wape"]
    assert 85 <= summary["all"]["coverage95"] <= 100
    for r in results:  # the choice never loses to a baseline on its own cross-validation
        errors = r["cv_error"]
        assert errors[r["model"]] <= min(errors["zero"], errors["seasonal-naive"])


def test_the_reorder_quantity_covers_simulated_demand_at_the_service_level():
    covered = []
    for seed in range(20):
        process = generate("intermittent", seed, days=377)
        history, future_rate = process.sample[:365], process.rate[365:]
        result = forecast_series(list(history), 14, 12, scored=False)
        s = reorder.suggestion(result["cover"], stock=1, on_order=1, lead_time_days=5)
        assert s["cover_days"] == 12 and s["review_days"] == 7 and s["service_level"] == 0.95
        assert s["quantity"] == max(0, math.ceil(s["demand_at_service_level"] - 2))
        # The same process run over those 12 days many times (the generator's own law).
        rng = np.random.default_rng(seed)
        totals = np.minimum(rng.poisson(future_rate, (4_000, 12)), 2).sum(axis=1)
        covered.append(float(np.mean(totals <= 2 + s["quantity"])))
    # Stock, the open order and the quantity last through about 95 % of the futures (each
    # product's own share varies with how well a year of history pins its rate down).
    assert np.mean(covered) >= 0.93, covered


@pytest.mark.parametrize(
    "history, expected",
    [
        ([], "not enough history: no sale in 0 days"),
        ([0.0] * 365, "not enough history: no sale in 365 days"),
        ([0.0] * 200 + [3.0] + [0.0] * 30, "not enough history: one sale in 231 days"),
        ([2.0, 0.0, 1.0] * 10, "not enough history to cross-validate: 30 days, 70 needed"),
    ],
)
def test_thin_histories_say_not_enough_history(history: list[float], expected: str):
    result = forecast_series(history, 7, 10)
    assert result["fallback_reason"] == expected
    if "no sale" in expected or "one sale" in expected:
        assert result["model"] == "zero" and result["mean"] == [0.0] * 7
        assert reorder.suggestion(result["cover"], 0, 0, 3)["quantity"] == 0
    json.dumps(result, allow_nan=False)  # raises on NaN or infinity


def test_negative_missing_and_absurd_quantities_are_not_demand():
    history = [1.0, -5.0, float("nan"), 0.0, 2.0, float("inf"), 1e9] * 20
    result = forecast_series(history, 7, 7)
    assert result["ignored_days"] == 80
    assert max(result["upper95"]) < 10 and result["history_total"] == 60.0
    json.dumps(result, allow_nan=False)


def test_reorder_arithmetic():
    percentiles = [float(i) for i in range(1, 100)]  # demand k at the k-th percentile
    assert reorder.quantile(percentiles, 0.95) == 95.0
    assert reorder.quantile(percentiles, 0.955) == pytest.approx(95.5)
    cover = {"days": 10, "mean": 50.0, "percentiles": percentiles}
    s = reorder.suggestion(cover, stock=30, on_order=20, lead_time_days=3)
    assert s["quantity"] == 45 and s["review_days"] == 7
    assert s["stockout_risk_without_order"] == 0.49 and s["stockout_risk_with_order"] <= 0.05
    assert reorder.suggestion(cover, stock=200, on_order=0, lead_time_days=3)["quantity"] == 0
    assert "order 45 now" in reorder.sentence("LENS-1", s)


def test_calibrated_coverage_of_the_true_poisson_is_the_nominal_level():
    # The true predictive distribution of a rarely selling item: its plain 95 % band [0, 1]
    # holds far more than 95 % of days, the calibrated count holds 95 % (Czado et al. 2009).
    rng = np.random.default_rng(7)
    actual = rng.poisson(0.2, 2_000).astype(float)
    sims = rng.poisson(0.2, (2_000, 2_000)).astype(float)
    lower, upper = np.quantile(sims, [0.025, 0.975], axis=0)
    assert evaluate.inside(actual, lower, upper) / len(actual) > 0.97
    for level in (0.8, 0.95):
        share = evaluate.calibrated_inside(actual, sims, level) / len(actual)
        assert abs(share - level) < 0.015, (level, share)
    assert evaluate.calibrated_inside(np.array([]), sims[:, :0], 0.95) == 0.0


def test_calibrated_coverage_of_the_95_band_on_poisson_series_of_known_rate():
    rng = np.random.default_rng(11)
    rates = np.linspace(0.1, 2.0, 24)  # intermittent to smooth, a year each
    results = [forecast_series(list(rng.poisson(r, 365).astype(float)), 14, 14) for r in rates]
    summary = summarise(results)["all"]
    assert summary["products"] == len(rates)
    assert 90 <= summary["calibrated_coverage95"] <= 98, summary
    assert 70 <= summary["calibrated_coverage80"] <= 90, summary


def test_calibrated_coverage_of_smooth_poisson_demand_with_a_weekly_season():
    # Poisson days of 4-10 a day shaped by the week, every other series with a change of level
    # 60 days before its end: the count paths (Poisson around the weekday-shaped rate, the level
    # read after the change) cover their nominal share, not the 98-99 % of sizes drawn from
    # every past day.
    results = []
    for i in range(16):
        process = generate("smooth", 500 + i, break_at=305 if i % 2 else None,
                           factor=0.5 if i % 4 == 1 else 1.6)  # fmt: skip
        results.append(forecast_series(list(process.sample), 14, 14))
    summary = summarise(results)
    assert list(summary["by_pattern"]) == ["smooth"]
    smooth = summary["by_pattern"]["smooth"]
    assert 90 <= smooth["calibrated_coverage95"] <= 98, smooth
    assert 72 <= smooth["calibrated_coverage80"] <= 88, smooth


def test_calibrated_coverage_of_over_dispersed_smooth_demand():
    # The same smooth series with negative-binomial days of shape 8 (variance rate + rate²/8):
    # the recent days are found over-dispersed, so the paths draw negative binomial days around
    # the weekday-shaped rate with the dispersion read from them (Poisson paths on these same
    # series: 86.5 % for the 95 % band, under the target).
    results, shapes = [], []
    for i in range(16):
        process = generate("smooth", 700 + i, break_at=305 if i % 2 else None,
                           factor=0.5 if i % 4 == 1 else 1.6, shape=8.0)  # fmt: skip
        y = process.sample
        days = counts.level_start(y)
        past = models.weekday_weights(y)[np.arange(len(y) - days, len(y)) % models.SEASON]
        shapes.append(counts.dispersion(y[-days:], past))
        results.append(forecast_series(list(y), 14, 14))
    assert sum(k is not None for k in shapes) >= 12, shapes
    smooth = summarise(results)["by_pattern"]["smooth"]
    assert smooth["products"] == 16
    assert 90 <= smooth["calibrated_coverage95"] <= 98, smooth
    assert 70 <= smooth["calibrated_coverage80"] <= 88, smooth


def test_the_recent_level_dispersion_and_sale_unit_of_smooth_demand():
    rng = np.random.default_rng(3)
    halved = rng.poisson(np.r_[np.full(300, 6.0), np.full(35, 3.0)]).astype(float)
    assert counts.level_start(halved) == 35  # the five weeks since the level halved
    steady = rng.poisson(6.0, 335).astype(float)
    assert counts.level_start(steady) == counts.RECENT_WEEKS * 7
    even = np.ones(91)
    assert counts.dispersion(rng.poisson(6.0, 91).astype(float), even) is None
    # Negative binomial days of shape 2 (a gamma-mixed Poisson): the shape is found again.
    shapes = [counts.dispersion(rng.poisson(6.0 * rng.gamma(2, 0.5, 91)).astype(float), even)
              for _ in range(8)]  # fmt: skip
    assert all(s is not None and 1 < s < 4 for s in shapes), shapes
    assert counts.sale_unit(np.array([0.0, 2.0, 4.0, 0.0, 6.0])) == 2  # lenses sold in pairs
    assert counts.sale_unit(np.array([0.0, 2.0, 3.0])) == 1
    assert counts.sale_unit(np.array([0.5, 1.0])) == 1
