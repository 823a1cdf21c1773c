"""The metrics and alerts reference page, generated from the code: every metric family that
``GET /metrics`` builds (read from the route module's source, so a metric added there shows up
here) and every alert rule of ``deploy/prometheus/ils-alerts.yml``.

``docs/generate.py`` writes the page with the other reference pages; ``tests/test_docs_site.py``
fails while the committed copy is stale, and ``tests/web/test_alert_rules.py`` checks that every
family a live scrape serves is listed here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
ROUTE = REPO / "src" / "ils" / "web" / "routes" / "metrics.py"
RULES = REPO / "deploy" / "prometheus" / "ils-alerts.yml"
KINDS = {"GaugeMetricFamily": "gauge", "CounterMetricFamily": "counter",
         "HistogramMetricFamily": "histogram"}  # fmt: skip


@dataclass(frozen=True)
class MetricDoc:
    """One metric family as Prometheus sees it."""

    name: str  # as scraped: a counter's ends in ``_total``
    kind: str
    labels: tuple[str, ...]
    help: str


def _text(node: ast.expr) -> str:
    value = ast.literal_eval(node)
    if not isinstance(value, str):
        raise TypeError(f"{ROUTE.name}:{node.lineno}: a metric's name and help are literals")
    return value


def metrics() -> list[MetricDoc]:
    """Every ``*MetricFamily(name, help, labels=[...])`` the metrics route builds, by name."""
    found: list[MetricDoc] = []
    for node in ast.walk(ast.parse(ROUTE.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        kind = KINDS.get(node.func.id)
        if kind is None:
            continue
        name, help_text = _text(node.args[0]), _text(node.args[1])
        labels: tuple[str, ...] = ()
        for keyword in node.keywords:
            if keyword.arg == "labels":
                labels = tuple(ast.literal_eval(keyword.value))
        scraped = f"{name}_total" if kind == "counter" else name
        found.append(MetricDoc(scraped, kind, labels, help_text))
    return sorted(found, key=lambda m: m.name)


def alerts() -> Iterator[dict[str, Any]]:
    """The alert rules, in the file's order."""
    loaded = yaml.safe_load(RULES.read_text())
    for group in loaded["groups"]:
        yield from group["rules"]


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def metrics_page(generated: str) -> str:
    lines = [
        "# Metrics and alerts reference",
        "",
        generated,
        "Every metric `GET /metrics` serves (from `src/ils/web/routes/metrics.py`) and every alert"
        " rule of `deploy/prometheus/ils-alerts.yml`. How to scrape, and what to do when an alert"
        " fires: [Monitoring](../monitoring.md). A histogram is served as its `_bucket`, `_sum` "
        "and `_count` series.",
        "",
        "## Metrics",
        "",
        "| metric | type | labels | what |",
        "|---|---|---|---|",
    ]
    for m in metrics():
        labels = ", ".join(f"`{label}`" for label in m.labels)
        lines.append(f"| `{m.name}` | {m.kind} | {labels} | {_cell(m.help)} |")
    lines += [
        "",
        "## Alerts",
        "",
        "| alert | severity | for | fires when | what it means |",
        "|---|---|---|---|---|",
    ]
    for rule in alerts():
        name = rule["alert"]
        link = f"[{name}](../monitoring.md#{name.lower()})"
        expr = _cell(rule["expr"]).replace("`", "")
        summary = _cell(rule["annotations"]["description"])
        row = [link, rule["labels"]["severity"], rule.get("for", "0s"), f"`{expr}`", summary]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
