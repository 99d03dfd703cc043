"""HTML, JSON and Markdown of one read model: the same figures, a self-contained and
accessible page, deterministic charts, and people's text that cannot break out."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from html.parser import HTMLParser

import jsonschema_rs
import pytest

from db.session import Database
from market import settling
from reports import charts, fmt, render_html, render_json, render_md
from reports.model import PolicyReport
from reports.read_model import build
from tests.integration import test_settling as settled_world
from tests.integration.trading_helpers import build_world
from tests.reports.helpers import traded


class Page(HTMLParser):
    """Headings, tables (cell texts by row), ids, tags and attributes of an HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.tags: Counter[str] = Counter()
        self.ids: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] = []
        self._in_svg = 0
        self.html = html
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        values = {k: v or "" for k, v in attrs}
        self.attributes += [(tag, k, v) for k, v in values.items()]
        if "id" in values:
            self.ids.append(values["id"])
        if re.fullmatch(r"h[1-6]", tag) and not self._in_svg:
            self.headings.append(int(tag[1]))
        if tag == "svg":
            self._in_svg += 1
        if tag == "table":
            self._table = values.get("id", f"table-{self.tags['table']}")
            self.tables[self._table] = []
        if tag == "tr":
            self._row = []
        if tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._in_svg -= 1
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "tr" and self._table is not None:
            self.tables[self._table].append(self._row)
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def md_table(markdown: str, header_start: str) -> list[list[str]]:
    """The rows (header first, the separator left out) of the Markdown table whose header
    row starts with ``header_start``."""
    lines = markdown.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[first:]:
        if not line.startswith("|"):
            break
        if re.fullmatch(r"\|(-+:?\|)+", line):
            continue
        cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
        rows.append([" ".join(c.replace("\\|", "|").split()) for c in cells])
    return rows


def settled_report(db: Database) -> PolicyReport:
    world = settled_world.build(db)
    settled_world.decide_now(db, world)
    settled_world.certify(db, settled_world.measure_w(db, world))
    with db.write() as s:
        settling.settle(s, world.proposal_id)
    with db.read() as s:
        return build(s, world.proposal_id)


@pytest.fixture
def open_report(db: Database) -> PolicyReport:
    t = traded(db)
    with db.read() as s:
        return build(s, t.world.proposal_id, t.now)


def test_the_three_renderings_give_the_same_figures(open_report: PolicyReport) -> None:
    report = open_report
    data = json.loads(render_json.render(report))
    page = Page(render_html.render(report))
    markdown = render_md.render(report)
    html_rows = page.tables["branches"]
    md_rows = md_table(markdown, "| Branch | LONG price")
    assert html_rows[0] == md_rows[0]  # the same columns
    for j, branch in enumerate(data["branches"]):
        expected = [
            fmt.price(branch["price"]),
            fmt.price(branch["averaged_price"]),
            fmt.num(branch["expected_welfare"]),
            fmt.num(branch["averaged_welfare"]),
            f"{fmt.num(branch['band']['low'])} – {fmt.num(branch['band']['high'])}",
            branch["activity"]["volume"],  # JSON writes money as the decimal string
            str(branch["activity"]["trades"]),
            str(branch["activity"]["traders"]),
            fmt.price(branch["probability"]),
        ]
        assert html_rows[j + 1][1:] == expected
        assert md_rows[j + 1][1:] == expected
    makers_html = page.tables["makers"]
    makers_md = md_table(markdown, "| Branch | Liquidity b")
    for j, branch in enumerate(data["branches"]):
        maker = branch["maker"]
        expected = [
            maker["liquidity"],
            maker["worst_case_loss"],
            maker["current_loss"],
            fmt.money(None),
        ]
        assert makers_html[j + 1][1:] == makers_md[j + 1][1:] == expected
    decision = data["decision"]
    for text in (page.html, markdown):
        assert f"{fmt.signed(decision['margin'])} points" in text
        assert f"F = {data['subsidy']}" in text
        assert data["rule"]["rule_hash"] in text
        assert data["rule"]["seed_commitment"] in text
        for flag in data["flags"]:
            assert f"Figure {fmt.num(flag['figure'])} {flag['unit']}" in text


def test_settled_figures_agree_across_renderings(db: Database) -> None:
    report = settled_report(db)
    data = json.loads(render_json.render(report))
    page = Page(render_html.render(report))
    markdown = render_md.render(report)
    html_rows = page.tables["outcomes"]
    md_rows = md_table(markdown, "| Branch | Outcome")
    assert html_rows == md_rows
    executed = data["branches"][0]["outcome"]
    assert html_rows[1] == [
        "Leave at 18",
        "settled",
        "0.6",
        fmt.signed(executed["error"]),
        "2.125011",
        executed["shares_paid"],
    ]
    assert data["settlement"]["traders_earned"] == "2.125011"
    for text in (page.html, markdown):
        assert "0.725" in text


def test_the_page_is_one_self_contained_file(open_report: PolicyReport) -> None:
    html = render_html.render(open_report)
    page = Page(html)
    assert page.tags["script"] == 0
    assert page.tags["link"] == 0
    assert page.tags["img"] == 0
    assert page.tags["iframe"] == 0
    assert page.tags["svg"] == 3
    for tag, name, value in page.attributes:
        if name in ("src", "srcset", "action", "poster", "data"):
            raise AssertionError(f"<{tag} {name}={value!r}> loads something")
        if name in ("href", "xlink:href"):
            assert not re.match(r"(?i)\s*(https?:|//|javascript:|data:)", value), (tag, value)
    assert "@import" not in html
    assert "@font-face" not in html
    assert not re.search(r"url\(\s*['\"]?(?!#)", html)  # only in-page references
    assert len(page.ids) == len(set(page.ids))  # three SVGs and the page share no id


def test_the_page_reads_in_order_and_names_every_table_and_chart(
    open_report: PolicyReport,
) -> None:
    html = render_html.render(open_report)
    page = Page(html)
    assert page.headings[0] == 1
    assert page.headings.count(1) == 1
    for previous, heading in zip(page.headings, page.headings[1:], strict=False):
        assert heading <= previous + 1  # never skips a level
    assert page.tags["table"] == page.tags["caption"] == 3  # decision, branches, makers
    for rows in page.tables.values():
        assert rows
        assert rows[0]
    assert '<html lang="en">' in html
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
    for chart in charts.all_charts(open_report):
        assert f'role="img" aria-labelledby="{chart.name}-title {chart.name}-desc"' in chart.svg
        assert f'<title id="{chart.name}-title">' in chart.svg
        assert f'<desc id="{chart.name}-desc">' in chart.svg
        assert 'width="' not in chart.svg.split(">", 1)[0]  # scales to the screen


def test_the_same_model_gives_the_same_bytes(open_report: PolicyReport) -> None:
    first = [render_html.render(open_report), render_md.render(open_report)]
    again = [render_html.render(open_report), render_md.render(open_report)]
    assert first == again
    assert "Date" not in first[0]
    assert "dc:date" not in first[0]


def assert_matches_schema(report: PolicyReport) -> None:
    schema = render_json.schema()
    assert "$ref" not in json.dumps(schema)
    data = json.loads(render_json.render(report))
    jsonschema_rs.validate(schema, data)
    assert data["schema"] == "policy-report/1"
    assert "subsidy_micros" not in data
    assert isinstance(data["subsidy"], str)


def test_the_json_is_what_its_schema_says(open_report: PolicyReport) -> None:
    assert_matches_schema(open_report)


def test_the_json_of_a_settled_proposal_is_what_its_schema_says(db: Database) -> None:
    assert_matches_schema(settled_report(db))


def test_a_report_without_trades_says_so_in_every_rendering(db: Database) -> None:
    world = build_world(db, traders=1)
    with db.read() as s:
        report = build(s, world.proposal_id)
    assert 'id="no-trades"' in render_html.render(report)
    assert "**No trades yet.**" in render_md.render(report)
    assert json.loads(render_json.render(report))["has_trades"] is False
    assert "No trades yet" in charts.price_chart(report).description


def test_peoples_text_cannot_break_out_of_any_rendering(open_report: PolicyReport) -> None:
    hostile = '<script>alert("x")</script> | *bold* $x$ & [link](http://e.x) _y_'
    branches = tuple(replace(b, name=f"{hostile} {b.index}") for b in open_report.branches)
    report = replace(
        open_report,
        title=hostile,
        description="# heading\n\n1. list",
        branches=branches,
        alternatives=(branches[0].name,),
        status_quo=branches[1].name,
    )
    html = render_html.render(report)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<title>Policy-decision report: &lt;script&gt;" in html
    page = Page(html)
    assert page.tags["script"] == 0
    assert page.tables["branches"][1][0].startswith(hostile)
    markdown = render_md.render(report)
    assert "<script>" not in markdown
    assert "&lt;script&gt;" in markdown
    rows = md_table(markdown, "| Branch | LONG price")
    assert {len(r) for r in rows} == {10}  # the | in the names did not add a column
    assert "\\# heading 1. list" in markdown  # one line: only its start could mean anything
    assert "\\[link\\](http://e.x)" in markdown
    for chart in charts.all_charts(report):  # mathtext is not triggered, nothing raw
        assert "<script>" not in chart.svg
    assert json.loads(render_json.render(report))["title"] == hostile
