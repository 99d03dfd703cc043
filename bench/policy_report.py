"""Policy-decision report benchmark: a proposal with 100,000 trades reports in ≤ 2 s.

Issue 12: a report of a proposal with 100,000 trades must render in at most 2 s, and no
page may load a whole trade history (the charts read a bounded, downsampled series).

For each backend and each size (1,000 traders; 10,000 and 100,000 trades):

1. the proposal of `bench.settle` is prepared (`bench.settle.prepare`: a scalar proposal,
   one alternative and the status quo, the trades generated with the pure book and
   inserted in bulk, the decision recorded, the measurement certified); on PostgreSQL the
   tables are then ANALYZEd in autocommit, as autovacuum would have done (without
   statistics the planner reads each page of the trade history by a bitmap scan and a
   sort of the whole market instead of a range of its index);
2. ``GET /proposals/{id}/report?format=html`` (the real app and route, through
   Starlette's TestClient: read model, three inline SVG charts, the HTML) is timed
   ``--repeats`` times, after one warm-up request; then the read model alone
   (`reports.read_model.build`) and each rendering of it;
3. the peak of Python memory allocated while building the read model (``tracemalloc``, one
   extra run): the report holds one page of trades at a time, so the peak must not grow
   tenfold with ten times the trades;
4. the proposal is settled (`market.settling.settle`) and the HTML request timed again
   (a settled report also reads the settlement's ledger sums).

Run: ``.venv/bin/python -m bench.policy_report`` (``--backends sqlite,pg``, ``--repeats
5``, ``--quick`` for small sizes, ``--no-markdown`` to leave BENCHMARKS.md alone). Writes
``bench/results/policy_report.json`` and the ``policy_report`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from bench.report import machine, markdown_table, median, verdict, write_json, write_section
from bench.settle import PgStore, SqliteStore, Store, opened, prepare
from db.identity import create_account, issue_api_key
from db.session import Database
from db.settings import Settings
from market.settling import settle
from reports import render_html, render_json, render_md
from reports.read_model import build

SIZES: tuple[int, ...] = (10_000, 100_000)
QUICK_SIZES: tuple[int, ...] = (1_000, 10_000)
TRADERS = 1_000
TARGET_S = 2.0
BACKEND_NAMES = {"sqlite": "SQLite", "pg": "PostgreSQL"}


@dataclass(frozen=True)
class Figure:
    """One backend and size: seconds per step (medians of the samples)."""

    backend: str
    trades: int
    http_html_s: list[float]
    build_s: list[float]
    html_s: list[float]
    json_s: list[float]
    md_s: list[float]
    peak_build_bytes: int
    http_html_settled_s: list[float]
    html_bytes: int
    path_points: int


def _timed(repeats: int, step: Callable[[], Any]) -> list[float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        samples.append(time.perf_counter() - started)
    return samples


def _http(db: Database, key: str, proposal_id: int, repeats: int) -> tuple[list[float], int]:
    app = create_app(Settings(database_url=db.url), database=db)
    headers = {"Authorization": f"Bearer {key}"}
    path = f"/proposals/{proposal_id}/report?format=html"
    with TestClient(app) as client:
        warm = client.get(path, headers=headers)
        assert warm.status_code == 200, warm.text
        samples = _timed(repeats, lambda: client.get(path, headers=headers).raise_for_status())
    return samples, len(warm.content)


def measure(store: Store, trades: int, repeats: int, seed: int) -> Figure:
    """Every figure of one backend and size (see the module docstring)."""
    url = store.fresh(f"report_n{trades}")
    world = prepare(url, TRADERS, trades, seed, conserve=False)
    pid = world.proposal_id
    try:
        with opened(url) as db:
            if not db.is_sqlite:  # what autovacuum would have done by now (outside a transaction)
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.exec_driver_sql("ANALYZE")
            with db.write() as s:
                account = create_account(s, "bench-reader", "trader")
                key = issue_api_key(s, account)
            http, size = _http(db, key, pid, repeats)

            def model() -> Any:
                with db.read() as s:
                    return build(s, pid)

            report = model()
            built = _timed(repeats, model)
            html = _timed(repeats, lambda: render_html.render(report))
            as_json = _timed(repeats, lambda: render_json.render(report))
            md = _timed(repeats, lambda: render_md.render(report))
            tracemalloc.start()
            model()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            with db.write() as s:
                settle(s, pid)
            settled, _ = _http(db, key, pid, repeats)
    finally:
        store.drop(url)
    figure = Figure(
        store.backend,
        trades,
        http,
        built,
        html,
        as_json,
        md,
        peak,
        settled,
        size,
        max(len(b.path) for b in report.branches),
    )
    print(
        f"{store.backend} {trades} trades: GET html {median(http):.3f} s (settled "
        f"{median(settled):.3f} s); build {median(built):.3f} s, html {median(html):.3f} s, "
        f"json {median(as_json):.3f} s, md {median(md):.3f} s; peak {peak / 1e6:.1f} MB",
        flush=True,
    )
    return figure


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; write the JSON and (unless told not to) the BENCHMARKS.md section."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backends", default="sqlite,pg", help="comma-separated: sqlite,pg")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure")
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument("--seed", type=int, default=20261212)
    parser.add_argument("--no-markdown", dest="markdown", action="store_false")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - set(BACKEND_NAMES)
    if unknown or not backends:
        parser.error(f"unknown backend(s) {sorted(unknown)}; choose from sqlite, pg")
    sizes = QUICK_SIZES if args.quick else SIZES
    started = time.perf_counter()
    figures: list[Figure] = []
    for backend in backends:
        store: Store = SqliteStore() if backend == "sqlite" else PgStore()
        try:
            figures += [measure(store, n, args.repeats, args.seed) for n in sizes]
        finally:
            store.close()
    result: dict[str, Any] = {
        "machine": machine(),
        "args": vars(args),
        "wall_s": time.perf_counter() - started,
        "target_s": TARGET_S,
        "traders": TRADERS,
        "figures": [
            {
                "backend": f.backend,
                "trades": f.trades,
                "http_html_median_s": median(f.http_html_s),
                "http_html_settled_median_s": median(f.http_html_settled_s),
                "build_median_s": median(f.build_s),
                "html_median_s": median(f.html_s),
                "json_median_s": median(f.json_s),
                "md_median_s": median(f.md_s),
                "target_met": median(f.http_html_s) <= TARGET_S
                and median(f.http_html_settled_s) <= TARGET_S,
                "peak_build_bytes": f.peak_build_bytes,
                "html_bytes": f.html_bytes,
                "path_points_per_branch": f.path_points,
                "samples_s": {
                    "http_html": f.http_html_s,
                    "http_html_settled": f.http_html_settled_s,
                    "build": f.build_s,
                    "html": f.html_s,
                    "json": f.json_s,
                    "md": f.md_s,
                },
            }
            for f in figures
        ],
    }
    path = write_json("policy_report-quick" if args.quick else "policy_report", result)
    if args.markdown and not args.quick:
        write_section("policy_report", markdown(result, argv))
    print(f"wall {result['wall_s']:.0f} s -> {path}")
    return result


def markdown(result: dict[str, Any], argv: Sequence[str] | None) -> str:
    """The BENCHMARKS.md section of a run."""
    m = result["machine"]
    given = " ".join(sys.argv[1:] if argv is None else argv)
    command = f"`.venv/bin/python -m bench.policy_report{' ' + given if given else ''}`"
    rows = [
        [
            BACKEND_NAMES[f["backend"]],
            f"{f['trades']:,}",
            f"{f['http_html_median_s']:.3f}",
            f"{f['http_html_settled_median_s']:.3f}",
            f"{f['build_median_s']:.3f}",
            f"{f['html_median_s']:.3f}",
            f"{f['json_median_s']:.3f}",
            f"{f['md_median_s']:.3f}",
            f"{f['peak_build_bytes'] / 1e6:.1f}",
            f"{f['html_bytes'] / 1e3:.0f}",
            verdict(f["target_met"]),
        ]
        for f in result["figures"]
    ]
    table = markdown_table(
        [
            "backend",
            "trades",
            "GET html (s)",
            "settled (s)",
            "read model (s)",
            "HTML (s)",
            "JSON (s)",
            "MD (s)",
            "peak MB",
            "HTML kB",
            f"≤ {result['target_s']:g} s",
        ],
        rows,
    )
    return f"""## Policy-decision report (issue 12)

{command} — {m["cpu_count"]} cores, Python {m["python"]}, commit {m["commit"]},
{m["measured_at"]}. A proposal with {result["traders"]:,} traders and the given number of
trades (bench.settle's generator), decided; medians of {result["args"]["repeats"]} runs.
"GET html" is the whole request through the app (read model, three inline SVG charts,
HTML); "settled" the same after settling. "peak MB" is the Python memory allocated at once
while building the read model (tracemalloc): it does not grow with the trades, because the
report reads one page of trades at a time and keeps at most 500 points per branch.

{table}
"""


if __name__ == "__main__":
    main()
