"""More concurrent money-moving requests than the server has worker threads (SQLite).

Regression: with the write transaction opened by a sync dependency, 40+ concurrent writers
could fill the thread pool with requests waiting for SQLite's write lock while the request
holding it waited for a thread: the server stopped. The scenario runs in a subprocess so a
regression fails by timeout instead of hanging the test session.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from db.session import Database
from market import funding
from tests.helpers import MakeAccount

SCENARIO = textwrap.dedent(
    """
    import sys, threading, uuid
    from fastapi.testclient import TestClient
    from api.app import create_app
    from db.session import Database
    from db.settings import Settings

    url, key, account_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    database = Database(url)
    app = create_app(Settings(database_url=url), database=database)
    codes = []
    with TestClient(app) as client:
        def credit():
            response = client.post(
                f"/accounts/{account_id}/credit",
                json={"amount": "1"},
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex},
            )
            codes.append(response.status_code)
        threads = [threading.Thread(target=credit, daemon=True) for _ in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    print(sorted(set(codes)), len(codes))
    """
)


def test_more_concurrent_writers_than_threads_all_complete(
    sqlite_db: Database, make_account_sqlite: MakeAccount
) -> None:
    _, admin_key = make_account_sqlite("admin")
    trader_id, _ = make_account_sqlite("trader")
    n = 80  # twice the default thread pool
    done = subprocess.run(
        [sys.executable, "-c", SCENARIO, sqlite_db.url, admin_key, str(trader_id), str(n)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == f"[200] {n}", done.stdout + done.stderr
    with sqlite_db.read() as session:
        assert funding.balances(session, trader_id).cash_micros == n * 1_000_000
