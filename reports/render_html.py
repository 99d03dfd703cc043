"""The report as one self-contained HTML file (Jinja2, autoescaped; charts as inline SVG).

Self-contained: the styles are inline, the charts are ``<svg>`` elements in the page, and
nothing is loaded from anywhere: no script, no stylesheet link, no font, no image URL. The
file can be mailed, archived or opened offline and looks the same. `CONTENT_SECURITY_POLICY`
says so to a browser (the route sends it), so even a mistake could not fetch anything.

Accessible: one ``h1``, then ``h2`` sections and ``h3`` sub-sections in order; every table
has a caption and header cells with their scope; each chart is ``role="img"`` with a
``<title>`` and ``<desc>`` and its figures are in the tables too; text is at least 7:1
against its background; wide tables scroll inside a focusable region, so the page reads
on a 375-pixel-wide screen without sideways scrolling of the page itself.

Every figure is written by the filters of `reports.fmt`, the same as in the Markdown.
"""

from __future__ import annotations

from functools import cache
from typing import Final

from jinja2 import Environment, PackageLoader, StrictUndefined

from reports import charts as chart_module
from reports import flags
from reports.fmt import FILTERS
from reports.model import PolicyReport

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
"""What the report page may load: nothing but its own inline styles."""

FLAG_TITLES: Final = {
    "thin_liquidity": "Thin liquidity",
    "concentrated_trader": "One trader dominates",
    "large_last_move": "Large move in the last interval",
    "margin_in_band": "Decision margin inside the band",
}
"""The heading of each flag kind, in both renderings."""

CSS: Final = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #ffffff; color: #1a1a1a;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0.25rem 0 0.5rem; overflow-wrap: anywhere; }
h2 { font-size: 1.3rem; margin: 2rem 0 0.5rem; border-bottom: 2px solid #d0d0d0; }
h3 { font-size: 1.1rem; margin: 1.25rem 0 0.5rem; }
a { color: #0b4f9c; }
a:focus, [tabindex]:focus { outline: 3px solid #0b4f9c; outline-offset: 2px; }
.kicker, .meta, .note { color: #4a4a4a; }
.kicker { margin: 0; font-size: 0.9rem; text-transform: uppercase; letter-spacing: 0.04em; }
.notice { background: #fff4d6; border-left: 6px solid #8a5a00; padding: 0.75rem 1rem; }
.decision { font-size: 1.1rem; padding: 0.75rem 1rem; border-left: 6px solid #0b4f9c;
  background: #eef4fb; }
.decision-would_be, .decision-due { border-left-color: #8a5a00; background: #fff4d6; }
.decision-none { border-left-color: #4a4a4a; background: #f2f2f2; }
dl.facts { display: grid; grid-template-columns: minmax(7rem, max-content) 1fr;
  gap: 0.25rem 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
ul.plain { margin: 0; padding-left: 1.1rem; }
code.hash { font-size: 0.85rem; overflow-wrap: anywhere; word-break: break-all; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.5rem 0; min-width: 100%; }
caption { text-align: left; font-weight: 600; padding: 0.25rem 0; }
th, td { border-bottom: 1px solid #d0d0d0; padding: 0.35rem 0.6rem; text-align: left;
  vertical-align: top; }
thead th { border-bottom: 2px solid #1a1a1a; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.executed th, tr.executed td { background: #eef4fb; }
.tag { display: inline-block; font-size: 0.75rem; font-weight: 600; padding: 0 0.35rem;
  border: 1px solid #4a4a4a; border-radius: 0.25rem; color: #1a1a1a; }
figure { margin: 1rem 0; }
figcaption { color: #4a4a4a; font-size: 0.9rem; }
svg.chart { width: 100%; max-width: 42rem; height: auto; display: block; }
ul.flags { padding-left: 0; list-style: none; }
li.flag { border-left: 6px solid #8a5a00; background: #fff4d6; padding: 0.5rem 0.75rem;
  margin: 0.5rem 0; }
.figure { display: block; font-size: 0.9rem; color: #3a3a3a; }
@media (max-width: 30rem) {
  main { padding: 0.75rem; }
  h1 { font-size: 1.35rem; }
  dl.facts { grid-template-columns: 1fr; }
  dl.facts dd { margin-bottom: 0.5rem; }
}
""".strip()


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


def render(report: PolicyReport) -> str:
    """The report as one HTML document (text; see the module docstring)."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        r=report,
        names=[b.name for b in report.branches],
        unit=report.metric.unit or "welfare units",
        scalar=report.asset_kind == "scalar",
        charts=chart_module.all_charts(report),
        flag_titles=FLAG_TITLES,
        thresholds={
            "thin": f"{flags.THIN_VOLUME_MULTIPLE:g}",
            "concentration": f"{flags.CONCENTRATION_SHARE:.0%}",
        },
        css=CSS,
    )
