"""Where the pages meet the policy-decision report (`reports`): its chart and its link.

The proposal page shows the report's own price chart (`reports.charts.price_chart`, drawn
from the same read model the page shows), never a second drawing of it.
"""

from __future__ import annotations

from reports.charts import price_chart
from reports.model import PolicyReport


def report_url(proposal_id: int) -> str:
    """The report of a proposal, as a page a browser can open without an API key (the
    JSON API's ``GET /proposals/{id}/report`` needs one)."""
    return f"/web/proposals/{proposal_id}/report"


def chart(report: PolicyReport) -> str:
    """The report's price chart as inline SVG: each branch's expected welfare over time,
    its averaged line over the decision window, the window shaded."""
    return price_chart(report).svg
