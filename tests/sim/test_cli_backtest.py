"""``futarchy backtest run`` and ``sweep`` end to end: files, summary, cache, refusals."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli import app
from sim.scenario import from_dict

TINY = """
name = "tiny"
runs = 4
block = 2
seed = 5
mechanisms = ["futarchy", "majority", "oracle"]

[[branches]]
name = "status quo"
effect = 0.0

[[branches]]
name = "better"
effect = 4.0

[market]
rounds = 3
trading_seconds = 86400

[rule]
window_seconds = 21600
interval_seconds = 3600

[population.informed]
count = 4

[population.noise]
count = 1
"""


def _tiny(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def test_run_writes_the_result_and_the_report_named_by_scenario_id(tmp_path):
    scenario = _tiny(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["backtest", "run", str(scenario), "--out", str(out), "--jobs", "1"]
    )
    assert result.exit_code == 0, result.output
    spec_id = from_dict(json.loads(json.dumps(__import__("tomllib").loads(TINY)))).id
    data = json.loads((out / f"{spec_id}.json").read_text())
    assert data["schema"] == "backtest-result/1"
    assert data["scenario_id"] == spec_id
    assert data["runs"] == 4
    assert list(data["mechanisms"]) == ["futarchy", "majority", "oracle"]
    assert data["mechanisms"]["oracle"]["p_best"]["mean"] == 1.0
    html = (out / f"{spec_id}.html").read_text()
    assert html.startswith("<!DOCTYPE html>") or html.lstrip().lower().startswith("<!doctype html>")
    assert "tiny" in html
    assert json.loads((out / "index.json").read_text()) == [
        {"scenario_id": spec_id, "name": "tiny", "runs": 4}
    ]
    assert "Full-information oracle" in result.output
    assert f"wrote {out / (spec_id + '.json')}" in result.output
    # two blocks of two runs, cached by scenario id
    assert sorted(p.name for p in (out / "cache" / spec_id).iterdir()) == [
        "runs-0-2.json",
        "runs-2-2.json",
    ]


def test_a_rerun_reads_the_cache_and_gives_the_same_result(tmp_path):
    scenario = _tiny(tmp_path)
    out = tmp_path / "out"
    runner = CliRunner()
    first = runner.invoke(app, ["backtest", "run", str(scenario), "--out", str(out), "--jobs", "1"])
    assert first.exit_code == 0, first.output
    (path,) = [p for p in out.glob("*.json") if p.name != "index.json"]
    before = path.read_text()
    cache = out / "cache"
    stamps = {p: p.stat().st_mtime_ns for p in cache.rglob("*.json")}
    again = runner.invoke(app, ["backtest", "run", str(scenario), "--out", str(out), "--jobs", "1"])
    assert again.exit_code == 0, again.output
    assert path.read_text() == before
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.json")} == stamps


def test_runs_and_engine_override_the_scenario(tmp_path):
    scenario = _tiny(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "run",
            str(scenario),
            "--out",
            str(out),
            "--runs",
            "2",
            "--engine",
            "fast",
            "--jobs",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    (path,) = [p for p in out.glob("*.json") if p.name != "index.json"]
    data = json.loads(path.read_text())
    assert (data["runs"], data["engine"]) == (2, "fast")


def test_a_bad_scenario_is_refused_in_one_line_naming_the_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace("count = 4", "count = 4\nbudgett = 3"))
    result = CliRunner().invoke(app, ["backtest", "run", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {bad}: population.informed.budgett: unknown field"
    assert not (tmp_path / "o").exists()


def test_a_missing_file_and_a_bad_option_are_refused(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(app, ["backtest", "run", str(tmp_path / "no.toml"), "--out", "o"])
    assert missing.exit_code == 1
    assert missing.output.startswith("error: ")
    zero = runner.invoke(
        app, ["backtest", "run", str(_tiny(tmp_path)), "--out", "o", "--runs", "0"]
    )
    assert zero.exit_code == 2


def test_sweep_runs_every_combination_of_the_grid(tmp_path):
    _tiny(tmp_path)
    grid = tmp_path / "grid.toml"
    grid.write_text(
        'base = "tiny.toml"\n[grid]\n"market.subsidy" = [100.0, 1000.0]\n"runs" = [2]\n'
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["backtest", "sweep", str(grid), "--out", str(out), "--jobs", "1"]
    )
    assert result.exit_code == 0, result.output
    index = json.loads((out / "index.json").read_text())
    assert [row["name"] for row in index] == [
        "tiny [market.subsidy=100.0]",
        "tiny [market.subsidy=1000.0]",
    ]
    for row in index:
        data = json.loads((out / f"{row['scenario_id']}.json").read_text())
        assert data["runs"] == 2
        assert (out / f"{row['scenario_id']}.html").exists()


def test_a_grid_naming_a_field_that_does_not_exist_is_refused(tmp_path):
    _tiny(tmp_path)
    grid = tmp_path / "grid.toml"
    grid.write_text('base = "tiny.toml"\n[grid]\n"market.subsidyy" = [1.0]\n')
    result = CliRunner().invoke(app, ["backtest", "sweep", str(grid), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {grid}: market.subsidyy: unknown field"
