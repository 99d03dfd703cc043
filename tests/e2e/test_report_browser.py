"""The HTML report in a real browser (Playwright driving Debian's Chromium): it requests
nothing beyond itself, reads on a 375-pixel-wide phone without sideways scrolling, and its
text keeps a contrast of at least 4.5:1. Screenshots at both widths are kept in the test's
temporary directory.

It drives the suite's one Chromium (`tests/e2e/conftest.py` ``chromium``: skipped, saying
why, only where it cannot run, and a failure under CI).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from db.session import Database
from reports import render_html
from reports.read_model import build
from tests.reports.helpers import traded

CONTRAST = """
() => {
  const lum = (rgb) => {
    const [r, g, b] = rgb.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const worst = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("svg")) continue;
    const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!text) continue;
    const fg = lum(parse(getComputedStyle(el).color).slice(0, 3));
    const bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) worst.push([el.tagName, el.textContent.slice(0, 40), ratio]);
  }
  return worst;
}
"""


def test_the_report_reads_on_a_phone_and_a_desktop_and_loads_nothing(
    chromium: Any, sqlite_db: Database, tmp_path: Path
) -> None:
    t = traded(sqlite_db)
    with sqlite_db.read() as s:
        html = render_html.render(build(s, t.world.proposal_id, t.now))
    page_file = tmp_path / "report.html"
    page_file.write_text(html, encoding="utf-8")
    for width, height in ((375, 740), (1280, 900)):
        context = chromium.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request, seen=requests: seen.append(request.url))
        page.goto(page_file.as_uri())
        page.wait_for_load_state("load")
        assert requests == [page_file.as_uri()]  # the page itself, nothing else
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        charts = page.locator("svg.chart")
        assert charts.count() == 3
        for i in range(3):
            box = charts.nth(i).bounding_box()
            assert box is not None
            assert 0 < box["width"] <= width
        assert page.locator("h1").inner_text() == "Raise the school leaving age"
        assert page.evaluate(CONTRAST) == []
        page.screenshot(path=str(tmp_path / f"report-{width}.png"), full_page=True)
        context.close()
