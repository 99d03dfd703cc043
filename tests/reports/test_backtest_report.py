"""The backtest report: every section, the input's figures to 3 significant digits in the
page, its charts and the Markdown, people's text escaped, one self-contained page, the
same bytes every time, and nulls (no manipulation sweep, futarchy without figures) shown
as absent rather than breaking the page."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from db.errors import InvalidInputError
from reports.backtest import (
    backtest_charts,
    num,
    prob,
    read_backtest,
    render_backtest_html,
    render_backtest_md,
    signed,
)
from tests.reports.test_renderings import Page, md_table

SCENARIO_ID = "3f2a9c1be0d4" + "7" * 52


def iv(mean: float, lo: float, hi: float) -> dict[str, float]:
    return {"mean": mean, "lo": lo, "hi": hi}


def result() -> dict[str, Any]:
    """Three branches (status quo 50, A 55 best, B 48 points), futarchy with and without
    exploration and two baselines, a manipulation sweep, price paths at five times."""
    return {
        "schema": "backtest-result/1",
        "scenario_id": SCENARIO_ID,
        "name": "honest traders",
        "scenario": {"name": "honest traders", "traders": {"informed": 20, "noise": 10}},
        "runs": 200,
        "engine": "exact",
        "seeds": {"entropy": 123456789, "blocks": [{"block": 0, "first_run": 0, "runs": 200}]},
        "branches": ["status quo", "A", "B"],
        "status_quo_index": 0,
        "true_welfare": [50.0, 55.0, 48.0],
        "best_branch": 1,
        "welfare_unit": "points",
        "mechanisms": {
            "futarchy": {
                "label": "Futarchy (ε = 0)",
                "kind": "futarchy",
                "p_best": iv(0.91, 0.87, 0.94),
                "regret": iv(0.4, 0.2, 0.6),
                "chosen_share": [0.05, 0.91, 0.04],
                "estimate_error": [iv(0.1, -0.2, 0.4), iv(-0.35, -0.6, -0.1), iv(1.25, 0.9, 1.6)],
                "convergence": [iv(0.3, 0.25, 0.35), iv(0.42, 0.38, 0.46), iv(0.5, 0.45, 0.55)],
                "maker_loss_ratio": iv(0.62, 0.58, 0.66),
                "pnl_by_type": {
                    "noise": iv(-1.5, -1.8, -1.2),
                    "informed": iv(2.345, 2.1, 2.6),
                    "insider": iv(4.0, 3.5, 4.5),
                },
                "effect_estimate": [
                    {
                        "branch": 1,
                        "estimate": iv(4.6, 4.1, 5.1),
                        "true": 5.0,
                        "sign_agreement": iv(0.985, 0.97, 0.995),
                    },
                    {
                        "branch": 2,
                        "estimate": iv(-1.1, -1.5, -0.7),
                        "true": -2.0,
                        "sign_agreement": iv(0.88, 0.84, 0.92),
                    },
                ],
            },
            "futarchy_randomised": {
                "label": "Futarchy (ε = 0.1, randomised only)",
                "kind": "futarchy",
                "p_best": iv(0.83, 0.78, 0.88),
                "regret": iv(1.2, 0.9, 1.5),
                "chosen_share": [0.08, 0.83, 0.09],
                "estimate_error": [iv(0.05, -0.3, 0.4), iv(-0.12, -0.5, 0.26), iv(0.2, -0.1, 0.5)],
                "convergence": None,
                "maker_loss_ratio": iv(0.55, 0.5, 0.6),
                "pnl_by_type": {"informed": iv(1.9, 1.6, 2.2), "noise": iv(-1.1, -1.4, -0.8)},
                "effect_estimate": None,
            },
            "majority": {
                "label": "Majority vote",
                "kind": "baseline",
                "p_best": iv(0.62, 0.55, 0.69),
                "regret": iv(2.75, 2.4, 3.1),
                "chosen_share": [0.2, 0.62, 0.18],
                "estimate_error": None,
                "convergence": None,
                "maker_loss_ratio": None,
                "pnl_by_type": None,
                "effect_estimate": None,
            },
            "status_quo": {
                "label": "Always the status quo",
                "kind": "baseline",
                "p_best": iv(0.0, 0.0, 0.0),
                "regret": iv(5.0, 5.0, 5.0),
                "chosen_share": [1.0, 0.0, 0.0],
            },
        },
        "price_paths": {
            "futarchy": {
                "times": [0.0, 0.25, 0.5, 0.75, 1.0],
                "mean": [
                    [50.0, 50.0, 50.0],
                    [50.2, 53.1, 49.0],
                    [50.1, 54.2, 48.6],
                    [50.0, 54.6, 48.3],
                    [50.05, 54.65, 48.2],
                ],
                "lo": [
                    [50.0, 50.0, 50.0],
                    [49.8, 52.5, 48.5],
                    [49.7, 53.8, 48.1],
                    [49.7, 54.2, 47.9],
                    [49.8, 54.3, 47.9],
                ],
                "hi": [
                    [50.0, 50.0, 50.0],
                    [50.6, 53.7, 49.5],
                    [50.5, 54.6, 49.1],
                    [50.3, 55.0, 48.7],
                    [50.3, 55.0, 48.5],
                ],
            }
        },
        "manipulation": {
            "target": 2,
            "budgets": [0.0, 0.5, 1, 2, 4],
            "unit": "multiple of the subsidy",
            "flip_rate": [0.0, 0.1, 0.4, 0.8, 1.0],
            "cost_to_flip": 1.3,
        },
        "per_run": [{"ignored": True}],
    }


def bare_result() -> dict[str, Any]:
    """The same scenario with no manipulation sweep and a futarchy mode whose every optional
    figure is null (or missing), and no price paths."""
    r = result()
    r["manipulation"] = None
    r["welfare_unit"] = ""
    r["price_paths"] = {}
    for key in ("futarchy", "futarchy_randomised"):
        mechanism = r["mechanisms"][key]
        for field in ("estimate_error", "convergence", "maker_loss_ratio", "pnl_by_type"):
            mechanism[field] = None
        mechanism.pop("effect_estimate", None)
        mechanism.pop("chosen_share")
    return r


@pytest.fixture(scope="module")
def html() -> str:
    return render_backtest_html(result())


@pytest.fixture(scope="module")
def page(html: str) -> Page:
    return Page(html)


def test_figures_are_written_to_3_significant_digits() -> None:
    assert [num(x) for x in (55, 0.4, -0.0123, 1234.5, 9.996, 0.0, 2.346e7, 1e-6)] == [
        "55.0",
        "0.400",
        "-0.0123",
        "1234",
        "10.0",
        "0",
        "2.35e+07",
        "1.00e-06",
    ]
    assert [signed(x) for x in (0.5, -0.5, 0.0)] == ["+0.500", "-0.500", "0"]
    assert [prob(p) for p in (0.91, 0.0, 1.0, None)] == ["0.910", "0.000", "1.000", "—"]
    assert num(None) == "—"
    assert num(float("nan")) == "n/a"


def test_the_header_names_the_scenario_its_runs_engine_and_seeds(html: str, page: Page) -> None:
    assert "<title>Backtest: honest traders (scenario 3f2a9c1be0d4)</title>" in html
    assert "<h1>Backtest: honest traders</h1>" in html
    assert "scenario <code>3f2a9c1be0d4</code>" in html
    assert '200 runs · engine exact · seed entropy <code class="hash">123456789</code>' in html
    assert SCENARIO_ID in html  # in full, in the facts
    assert "block 0: runs 0 to 199" in html
    assert page.tables["branches"][1:] == [
        ["status quo status quo", "50.0"],
        ["A best", "55.0"],
        ["B", "48.0"],
    ]


def test_the_scenario_is_shown_as_canonical_json(html: str) -> None:
    text = '{"name":"honest traders","traders":{"informed":20,"noise":10}}'
    assert f'<pre class="json"><code>{text.replace(chr(34), "&#34;")}</code></pre>' in html
    assert "(the scenario id)" not in html  # the made-up id is not this text's digest


def test_the_summary_has_one_row_per_mechanism_with_the_inputs_figures(page: Page) -> None:
    rows = page.tables["summary"]
    assert rows[0] == [
        "Mechanism",
        "Kind",
        "P(best)",
        "Mean regret (points)",
        "Maker loss / bound",
        "P&L by agent type (cash)",
    ]
    assert rows[1:] == [
        [
            "Futarchy (ε = 0)",
            "futarchy",
            "0.910 [0.870, 0.940]",
            "0.400 [0.200, 0.600]",
            "0.620 [0.580, 0.660]",
            "informed 2.35 [2.10, 2.60]; insider 4.00 [3.50, 4.50]; noise -1.50 [-1.80, -1.20]",
        ],
        [
            "Futarchy (ε = 0.1, randomised only)",
            "futarchy",
            "0.830 [0.780, 0.880]",
            "1.20 [0.900, 1.50]",
            "0.550 [0.500, 0.600]",
            "informed 1.90 [1.60, 2.20]; noise -1.10 [-1.40, -0.800]",
        ],
        ["Majority vote", "baseline", "0.620 [0.550, 0.690]", "2.75 [2.40, 3.10]", "—", "—"],
        [
            "Always the status quo",
            "baseline",
            "0.000 [0.000, 0.000]",
            "5.00 [5.00, 5.00]",
            "—",
            "—",
        ],
    ]


def test_chosen_shares_estimates_and_convergence_are_tabled(page: Page) -> None:
    assert page.tables["chosen"][1:] == [
        ["Futarchy (ε = 0)", "0.050", "0.910", "0.040"],
        ["Futarchy (ε = 0.1, randomised only)", "0.080", "0.830", "0.090"],
        ["Majority vote", "0.200", "0.620", "0.180"],
        ["Always the status quo", "1.000", "0.000", "0.000"],
    ]
    estimates = page.tables["estimates"][1:]
    assert len(estimates) == 6  # two futarchy modes × three branches; no baseline
    assert estimates[1] == [
        "Futarchy (ε = 0)",
        "A",
        "-0.350 [-0.600, -0.100]",
        "0.420 [0.380, 0.460]",
    ]
    assert estimates[5] == [
        "Futarchy (ε = 0.1, randomised only)",
        "B",
        "+0.200 [-0.100, +0.500]",
        "—",
    ]


def test_every_chart_is_drawn_with_a_title_and_a_description_in_figures(
    html: str, page: Page
) -> None:
    charts = backtest_charts(read_backtest(result()))
    assert [c.name for c in charts] == ["pbest", "regret", "path1", "error", "manipulation"]
    assert page.tags["svg"] == 5
    for chart in charts:
        assert chart.svg in html
        assert f'<title id="{chart.name}-title">' in chart.svg
        assert f'<desc id="{chart.name}-desc">' in chart.svg
        assert 'width="' not in chart.svg.split(">", 1)[0]  # scales to the screen
    pbest, regret, path, error, manipulation = (c.description for c in charts)
    assert "Futarchy (ε = 0): 0.910 [0.870, 0.940]" in pbest
    assert "Always the status quo: 0.000 [0.000, 0.000]" in pbest
    assert "Majority vote: 2.75 [2.40, 3.10]" in regret
    assert "A: from 50.0 to 54.6 (band 54.3 to 55.0), true 55.0" in path
    assert "Majority" not in error  # baselines estimate nothing
    assert "Futarchy (ε = 0): status quo +0.100 [-0.200, +0.400], A -0.350" in error
    assert "budget 0.500: 0.100" in manipulation
    assert "The cost to flip is 1.30 (multiple of the subsidy)." in manipulation
    assert "(target: B)" in manipulation.split(".")[0]
    assert len(page.ids) == len(set(page.ids))  # five SVGs and the page share no id


def test_the_manipulation_and_confounding_sections_show_the_sweep(html: str, page: Page) -> None:
    assert "The cost to flip the decision: <strong>1.30</strong>." in html
    assert page.tables["manipulation"][1:] == [
        ["0", "0.000"],
        ["0.500", "0.100"],
        ["1.00", "0.400"],
        ["2.00", "0.800"],
        ["4.00", "1.000"],
    ]
    assert page.tables["effects"][1:] == [
        ["Futarchy (ε = 0)", "A", "+4.60 [+4.10, +5.10]", "+5.00", "0.985 [0.970, 0.995]"],
        ["Futarchy (ε = 0)", "B", "-1.10 [-1.50, -0.700]", "-2.00", "0.880 [0.840, 0.920]"],
    ]


def test_the_page_says_what_it_cannot_tell_you(html: str) -> None:
    limits = html.split('<p id="limits">', 1)[1].split("</p>", 1)[0]
    assert "stylised model" in limits
    assert "signals are drawn from the scenario, not from the world" in limits
    assert "fixed rules" in limits
    assert "over seeds only" in limits


def test_the_page_is_self_contained_and_reads_in_order(html: str, page: Page) -> None:
    assert page.tags["script"] == page.tags["link"] == page.tags["img"] == 0
    urls = re.findall(r'[\w:-]*="?https?://[^"\s]*', html)
    assert set(urls) == {
        'xmlns="http://www.w3.org/2000/svg',
        'xmlns:xlink="http://www.w3.org/1999/xlink',
    }
    assert html.count("http") == 2 * page.tags["svg"]  # the two SVG namespaces, nothing else
    assert not re.search(r"url\(\s*['\"]?(?!#)", html)
    assert page.headings[0] == 1
    assert page.headings.count(1) == 1
    for previous, heading in zip(page.headings, page.headings[1:], strict=False):
        assert heading <= previous + 1
    assert page.tags["table"] == page.tags["caption"] == 6


def test_the_same_result_gives_the_same_bytes(html: str) -> None:
    again = copy.deepcopy(result())
    assert render_backtest_html(again) == html
    assert render_backtest_md(again) == render_backtest_md(result())
    assert "dc:date" not in html


def test_a_hostile_scenario_name_is_text_everywhere() -> None:
    hostile = '<script>alert("x")</script> | $x$ *y*'
    r = result()
    r["name"] = hostile
    r["branches"] = ["status quo", hostile, "B"]
    r["mechanisms"]["majority"]["label"] = hostile
    html = render_backtest_html(r)
    assert "<script>" not in html
    assert "<title>Backtest: &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    page = Page(html)
    assert page.tags["script"] == 0
    assert page.tables["branches"][2][0] == hostile + " best"
    assert page.tables["summary"][3][0] == hostile
    markdown = render_backtest_md(r)
    assert "<script>" not in markdown
    assert markdown.startswith(
        '# Backtest: &lt;script&gt;alert("x")&lt;/script&gt; \\| $x$ \\*y\\*'
    )
    rows = md_table(markdown, "| Mechanism |")
    assert {len(row) for row in rows} == {6}  # the | in the label did not add a column


def test_nulls_leave_their_sections_out_or_say_none() -> None:
    html = render_backtest_html(bare_result())
    page = Page(html)
    assert 'id="no-manipulation"' in html
    assert "manipulation" not in page.tables
    assert "effects" not in page.tables
    assert "h-confounding" not in html
    assert "estimates" not in page.tables
    assert page.tags["svg"] == 2  # P(best) and regret only
    assert page.tables["summary"][1][2:] == [
        "0.910 [0.870, 0.940]",
        "0.400 [0.200, 0.600]",
        "—",
        "—",
    ]
    assert page.tables["chosen"][1] == ["Futarchy (ε = 0)", "—", "—", "—"]
    assert "Mean regret (welfare units)" in page.tables["summary"][0]
    markdown = render_backtest_md(bare_result())
    assert "## Manipulation" not in markdown
    assert "## Confounding" not in markdown


def test_the_markdown_has_the_same_summary_as_the_page(page: Page) -> None:
    markdown = render_backtest_md(result())
    assert md_table(markdown, "| Mechanism | Kind") == page.tables["summary"]
    assert md_table(markdown, "| Budget") == page.tables["manipulation"]
    assert md_table(markdown, "| Mechanism | Branch")[1:] == page.tables["effects"][1:]
    assert "Scenario `3f2a9c1be0d4` · 200 runs · engine exact · seed entropy 123456789" in markdown
    assert "## What this cannot tell you" in markdown


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(schema="backtest-result/2"), "schema"),
        (lambda r: r.update(true_welfare=[50.0, 55.0]), "true_welfare must have 3 items"),
        (lambda r: r.update(best_branch=3), "best_branch is out of range"),
        (lambda r: r["mechanisms"]["majority"].update(kind="vote"), "mechanisms.majority.kind"),
        (lambda r: r["mechanisms"]["majority"].pop("p_best"), "mechanisms.majority.p_best"),
        (lambda r: r["price_paths"]["futarchy"]["mean"].pop(), "price_paths.futarchy.mean"),
        (lambda r: r["manipulation"].update(flip_rate=[0.0]), "manipulation.flip_rate"),
    ],
)
def test_a_result_that_breaks_the_contract_is_refused_by_name(change: Any, message: str) -> None:
    r = result()
    change(r)
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        render_backtest_html(r)
