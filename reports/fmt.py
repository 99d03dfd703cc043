"""How the HTML and Markdown renderings write the read model's figures (pure).

Both renderings format every number with these functions (as Jinja2 filters), so a figure
reads the same in both and a test can find JSON's value, formatted once, in each. JSON
itself carries the unformatted values (money as exact decimal strings).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from market.book import format_micros
from market.deciding import time_left


def money(micros: int | None) -> str:
    """Micro-units as the exact shortest decimal: ``12_500_000 → "12.5"``; None → ``"—"``."""
    return "—" if micros is None else format_micros(micros)


def num(x: float | None) -> str:
    """A welfare figure to 6 significant digits: ``60.1516455 → "60.1516"``."""
    return "—" if x is None else f"{x:.6g}"


def signed(x: float | None) -> str:
    """A difference with its sign, 6 significant digits: ``"+20.4045"``."""
    return "—" if x is None else f"{x:+.6g}"


def price(p: float | None) -> str:
    """A price or probability to 4 decimals: ``0.638763 → "0.6388"``."""
    return "—" if p is None else f"{p:.4f}"


def share(x: float | None) -> str:
    """A share as a percentage to one decimal: ``0.3996 → "40.0%"``."""
    return "—" if x is None else f"{x:.1%}"


def when(instant: datetime | None) -> str:
    """An instant in UTC to the second: ``"2026-12-03 17:43:32 UTC"``."""
    if instant is None:
        return "—"
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    """A duration in its two largest units: ``86400 → "1 d"``, ``5400 → "1 h 30 min"``."""
    return "—" if seconds is None else time_left(timedelta(seconds=seconds))


def short_hash(digest: str | None) -> str:
    """The first 12 hex digits and an ellipsis (the full hash stays in the title/JSON)."""
    if not digest:
        return "—"
    return digest[:12] + "…" if len(digest) > 12 else digest


FILTERS = {
    "money": money,
    "num": num,
    "signed": signed,
    "price": price,
    "share": share,
    "when": when,
    "duration": duration,
    "short_hash": short_hash,
}
"""The Jinja2 filters both templates use."""
