"""Renders an email type's two parts from its Jinja2 templates: HTML (autoescaped, CSS inlined
by css-inline) and plain text, with the company's name and brand colour, money to the cent,
dates, and links into the app. HTML a caller hands in is sanitised with nh3 first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import css_inline
import nh3
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

BRAND_FALLBACK = "#1f5f8b"


@dataclass(frozen=True)
class Rendered:
    html: str
    text: str


def money(value: Decimal | int | str | None) -> str:
    """``1234.5`` -> ``1,234.50``: two places, half-up, thousands separated."""
    if value is None:
        return ""
    return f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


def date(value: dt.date | dt.datetime | None) -> str:
    """``2026-11-28`` -> ``28 Nov 2026`` (datetimes also show the UTC time)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%d %b %Y %H:%M UTC")
    return value.strftime("%d %b %Y")


def sanitize(html: str) -> Markup:
    """Caller-supplied HTML with scripts, event handlers and unknown tags removed."""
    return Markup(nh3.clean(html))


def safe_color(value: str | None) -> str:
    """A ``#rrggbb`` colour, or the default one: never lets text into the style sheet."""
    if value and len(value) == 7 and value[0] == "#":
        try:
            int(value[1:], 16)
            return value
        except ValueError:
            pass
    return BRAND_FALLBACK


class Renderer:
    """The email templates of one process; ``public_url`` prefixes every link."""

    def __init__(self, public_url: str) -> None:
        self.public_url = public_url.rstrip("/")
        common: dict[str, Any] = {
            "loader": PackageLoader("ils.jobs.email", "templates"),
            "undefined": StrictUndefined,
            "trim_blocks": True,
            "lstrip_blocks": True,
        }
        self.html_env = Environment(autoescape=select_autoescape(default=True), **common)
        self.text_env = Environment(autoescape=False, **common)
        for env in (self.html_env, self.text_env):
            env.filters.update(money=money, date=date)
            env.globals["link"] = self.link
        self._inliner = css_inline.CSSInliner(keep_style_tags=False)

    def link(self, path: str) -> str:
        return f"{self.public_url}/{path.lstrip('/')}"

    def render(self, name: str, **context: Any) -> Rendered:
        """Both parts of template ``name`` (``templates/<name>.html`` and ``.txt``)."""
        company = context.get("company")
        context.setdefault("brand_color", safe_color(getattr(company, "brand_color", None)))
        # Jinja2 caches compiled templates per environment: get_template is cheap after the first.
        html = self.html_env.get_template(f"{name}.html").render(**context)
        text = self.text_env.get_template(f"{name}.txt").render(**context)
        return Rendered(html=self._inliner.inline(html), text=text.strip() + "\n")
