"""The report as Markdown (CommonMark with GitHub tables), from the same read model.

Every figure is written by the filters of `reports.fmt`, as in the HTML. Text that came
from people (titles, branch names, descriptions, reasons) goes through `escape_md`, so a
name can neither break a table, start a heading or a link, nor smuggle HTML into a
Markdown viewer. The charts are only in the HTML rendering; the tables hold their figures.
"""

from __future__ import annotations

import re
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from reports import flags
from reports.fmt import FILTERS
from reports.model import PolicyReport
from reports.render_html import FLAG_TITLES

_INLINE = re.compile(r"([\\`*_\[\]|~])")
"""Characters that mean something anywhere in a Markdown line."""
_LEADING = re.compile(r"^(\d*)([#+>.)-])")
"""What means something only at the start of a line (a heading, a list, a quote)."""


def escape_md(text: object) -> str:
    """Plain text safe inside a Markdown paragraph or table cell: ``&``, ``<`` and ``>``
    as HTML entities (so no HTML reaches a viewer), the inline punctuation of Markdown
    (emphasis, code, links, table cells) backslash-escaped, a leading heading, list or
    quote marker escaped, and whitespace runs (newlines included) as one space."""
    plain = " ".join(str(text).split())
    plain = plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    plain = _INLINE.sub(r"\\\1", plain)
    return _LEADING.sub(r"\1\\\2", plain)


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=False,  # Markdown, not HTML: people's text goes through the md filter
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.filters["md"] = escape_md
    return env


def render(report: PolicyReport) -> str:
    """The report as a Markdown document."""
    template = _environment().get_template("report.md.j2")
    text = template.render(
        r=report,
        names=[b.name for b in report.branches],
        unit=report.metric.unit or "welfare units",
        scalar=report.asset_kind == "scalar",
        flag_titles=FLAG_TITLES,
        thresholds={
            "thin": f"{flags.THIN_VOLUME_MULTIPLE:g}",
            "concentration": f"{flags.CONCENTRATION_SHARE:.0%}",
        },
    )
    return re.sub(r"\n{3,}", "\n\n", text)
