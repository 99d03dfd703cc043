"""Hostile and extreme input on the welfare side over HTTP, on SQLite and PostgreSQL: no 5xx
whatever anyone sends (issue 9).

- a metric's numbers are finite and bounded (1e15; see tests/api/test_metric_versions.py),
  and a measurement whose W, a score or a Monte Carlo draw or summary is not a finite
  number is a 409 naming what overflowed, and nothing is stored (the arithmetic cases are
  in tests/unit/welfare/test_measurement.py: observations are bounded at 1e15 too);
- the council is bounded (200 members, 4 000 seats) where seats are set, and its exact power
  table is computed once per seat vector and quota, then served from memory;
- the two-factor method names the assembly size it really needs;
- every council list is paged by `db.paging`;
- member names are NFKC-normalised and refused with invisible or direction-changing
  characters.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from db.session import Database
from db.types import utcnow
from tests.helpers import MakeAccount, auth
from welfare import power
from welfare.records import Measurement


def is_problem(response: Any, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert fragment in response.json()["detail"], response.json()["detail"]


def member(client: TestClient, admin: str, name: str, population: int, **extra: Any) -> Any:
    return client.post(
        "/council/members",
        json={"name": name, "population": population, **extra},
        headers=auth(admin),
    )


def created(client: TestClient, admin: str, name: str, population: int, **extra: Any) -> int:
    response = member(client, admin, name, population, **extra)
    assert response.status_code == 201, response.text
    member_id: int = response.json()["id"]
    return member_id


def get(client: TestClient, key: str, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- measurements that are not finite numbers ---------------------------------------------


NET_BENEFIT: dict[str, Any] = {
    "name": "net benefit",
    "entity": "World",
    "unit": "USD",
    "lo": -1e15,
    "hi": 1e15,
    "aggregation": "money_sum",
    "components": [
        {"key": "gain", "indicator": "gain", "unit": "USD", "weight": 1,
         "normalisation": {"kind": "none"}},
        {"key": "cost", "indicator": "cost", "unit": "USD", "weight": 1, "direction": -1,
         "normalisation": {"kind": "none"}},
    ],
}  # fmt: skip
"""W = gain − cost, in US dollars."""


def money_world(client: TestClient, make_account: MakeAccount, csv_rows: str) -> str:
    """Indicators gain and cost (USD), the World's values from ``csv_rows``, and a seated
    council member's key."""
    _, admin = make_account("admin")
    for key in ("gain", "cost"):
        made = client.post("/indicators", json={"key": key, "unit": "USD"}, headers=auth(admin))
        assert made.status_code == 201, made.text
    imported = client.post(
        "/indicators/observations.csv",
        content=("indicator,entity,period,value,release_date,std_error\n" + csv_rows).encode(),
        headers={**auth(admin), "Content-Type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    account_id, council = make_account("council", "speaker")
    created(client, admin, "A", 1_000_000, account_id=account_id)
    return council


def measure(client: TestClient, key: str, vid: str, **extra: Any) -> tuple[Any, Any]:
    """(POST /measurements/preview, POST /measurements) for the World in 2007."""
    body = {"version_id": vid, "period": 2007, "cutoff": "2010-01-01", **extra}
    preview = client.post("/measurements/preview", json=body, headers=auth(key))
    headers = {**auth(key), "Idempotency-Key": uuid.uuid4().hex}
    stored = client.post("/measurements", json=body, headers=headers)
    return preview, stored


def stored_measurements(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Measurement)) or 0


def test_monte_carlo_draws_beyond_the_float_range_are_a_409_naming_the_component(
    client: TestClient, make_account: MakeAccount, db: Database
) -> None:
    # gain 1e-300 USD with a standard error of 1: under the log transform ln x is drawn from
    # N(ln x, (σ/x)²) with σ/x = 1e300, and e to the power of such draws is infinite
    council = money_world(
        client, make_account, "gain,World,2007,1e-300,2009-01-01,1\ncost,World,2007,0,2009-01-01,\n"
    )
    index = {
        "name": "log gain",
        "entity": "World",
        "unit": "index",
        "lo": 0,
        "hi": 1,
        "components": [
            {"key": "gain", "indicator": "gain", "unit": "USD", "weight": 1, "log": True,
             "normalisation": {"lo": 1, "hi": 1e15}},
        ],
    }  # fmt: skip
    vid = client.post("/metric-versions", json=index, headers=auth(council)).json()["version_id"]
    preview, stored = measure(client, council, vid, monte_carlo=1000, seed=7)
    for response in (preview, stored):
        is_problem(response, 409, "component 'gain': Monte Carlo draws of gain around 1e-300")
    assert stored_measurements(db) == 0
    # without draws, ln 1e-300 lies below the lower goalpost ln 1: W = 0, stored
    preview, stored = measure(client, council, vid)
    assert preview.status_code == 200, preview.text
    assert stored.status_code == 201, stored.text
    assert preview.json()["value"] == stored.json()["value"] == 0.0
    assert stored_measurements(db) == 1


def test_goalposts_of_1e308_are_refused_and_the_largest_bounds_measure_finitely(
    client: TestClient, make_account: MakeAccount, db: Database
) -> None:
    # the case of issue 9: goalposts of ±1e308 once let a value of 1e308 through as null
    council = money_world(
        client,
        make_account,
        "gain,World,2007,1e15,2009-01-01,\ncost,World,2007,-1e15,2009-01-01,\n",
    )
    index = {
        "name": "gain index",
        "entity": "World",
        "unit": "index",
        "lo": 0,
        "hi": 1,
        "components": [
            {"key": "gain", "indicator": "gain", "unit": "USD", "weight": 1,
             "normalisation": {"lo": -1e308, "hi": 1e308}},
        ],
    }  # fmt: skip
    is_problem(
        client.post("/metric-versions", json=index, headers=auth(council)),
        422,
        "components[0].normalisation.lo: -1e+308 is beyond the bound ±1e+15",
    )
    index["components"][0]["normalisation"] = {"lo": -1e14, "hi": 1e14}
    vid = client.post("/metric-versions", json=index, headers=auth(council)).json()["version_id"]
    # 1e15 lies beyond the upper goalpost: the score is capped at 1
    preview, stored = measure(client, council, vid)
    assert preview.status_code == 200, preview.text
    assert stored.status_code == 201, stored.text
    assert preview.json()["value"] == stored.json()["value"] == 1.0

    # the largest money weights on the largest amounts: W = 1e6·1e15 − 1e6·(−1e15) = 2e21
    heavy = {
        **NET_BENEFIT,
        "components": [{**c, "weight": 1e6} for c in NET_BENEFIT["components"]],
    }
    vid = client.post("/metric-versions", json=heavy, headers=auth(council)).json()["version_id"]
    preview, stored = measure(client, council, vid)
    assert stored.status_code == 201, stored.text
    assert preview.json()["value"] == stored.json()["value"] == 2e21
    assert stored_measurements(db) == 2


# --- the council's size and its power table ----------------------------------------------


def test_the_assembly_is_bounded_at_4000_seats_where_seats_are_set(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    created(client, admin, "A", 1_000_000, explicit_weight=2_500)
    created(client, admin, "B", 4_000_000, explicit_weight=2_000)
    is_problem(
        client.patch("/council/rules", json={"assembly_size": 4_001}, headers=auth(admin)),
        422,
        "assembly_size",
    )
    assert get(client, admin, "/council/rules")["version_id"] is None
    # explicit weights of 2 500 and 2 000: 4 500 seats in all
    is_problem(
        client.patch("/council/rules", json={"method": "explicit"}, headers=auth(admin)),
        422,
        "the explicit weights sum to 4500 seats, more than the 4000 seats a council may have",
    )
    changed = client.patch(
        f"/council/members/{1}", json={"explicit_weight": 2_000}, headers=auth(admin)
    )
    assert changed.status_code == 200, changed.text
    explicit = client.patch("/council/rules", json={"method": "explicit"}, headers=auth(admin))
    assert explicit.status_code == 200, explicit.text
    assert [m["seats"] for m in get(client, admin, "/council/members")["members"]] == [2_000] * 2
    # now the third member's weight would take the council beyond 4 000 seats
    is_problem(
        member(client, admin, "C", 1, explicit_weight=1),
        422,
        "the explicit weights sum to 4001 seats",
    )
    is_problem(
        client.patch("/council/members/2", json={"explicit_weight": 2_001}, headers=auth(admin)),
        422,
        "sum to 4001 seats",
    )
    is_problem(member(client, admin, "C", 1, explicit_weight=4_001), 422, "explicit_weight")
    assert [m["name"] for m in get(client, admin, "/council/members")["members"]] == ["A", "B"]


def test_the_power_table_is_computed_once_per_seat_vector_and_quota(
    client: TestClient, make_account: MakeAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed: list[tuple[tuple[int, ...], int]] = []
    exact = power.power_indices

    def counting(weights: Any, quota: int) -> power.PowerIndices:
        computed.append((tuple(weights), quota))
        return exact(weights, quota)

    monkeypatch.setattr(power, "power_indices", counting)
    power.cached_power_table.cache_clear()
    _, admin = make_account("admin")
    _, trader = make_account("trader")
    for name, population in [("A", 1_000_000), ("B", 4_000_000), ("C", 9_000_000)]:
        created(client, admin, name, population)

    first = get(client, trader, "/council/power")
    again = get(client, trader, "/council/power")
    assert again == first
    # 800 seats by Penrose: 133, 267, 400; threshold ½: quota 401
    assert computed == [((133, 267, 400), 401)]
    assert first["quota"] == 401
    assert [r["banzhaf"] for r in first["rows"]] == ["0.2", "0.2", "0.6"]

    # another threshold is another game: 0.6 of 800 gives quota 481
    explored = get(client, trader, "/council/power", threshold="0.6")
    assert computed[-1] == ((133, 267, 400), 481)
    assert explored["quota"] == 481
    get(client, trader, "/council/power", threshold="0.6")
    assert len(computed) == 2

    # a change of seats gives a new table: A's population 9 000 000 → 300, 200, 300 seats
    changed = client.patch(
        "/council/members/1", json={"population": 9_000_000}, headers=auth(admin)
    )
    assert changed.status_code == 200, changed.text
    after = get(client, trader, "/council/power")
    assert computed[-1] == ((300, 200, 300), 401)
    assert [r["seats"] for r in after["rows"]] == [300, 200, 300]
    assert [r["banzhaf"] for r in after["rows"]] == ["1/3", "1/3", "1/3"]
    get(client, trader, "/council/power")
    assert len(computed) == 3


def test_the_two_factor_method_names_the_assembly_it_needs(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    for name in ("A", "B", "C"):
        created(client, admin, name, 1_000_000, contribution=1_000)
    # ⌈S/2⌉ seats go by population with at least one each: 3 members need S ≥ 2·3 − 1 = 5
    # (4 seats would give the population half only 2)
    is_problem(
        client.patch(
            "/council/rules",
            json={"method": "two_factor", "assembly_size": 4},
            headers=auth(admin),
        ),
        422,
        "3 members need S ≥ 2·3 − 1 = 5; send an assembly size of at least 5",
    )
    ok = client.patch(
        "/council/rules", json={"method": "two_factor", "assembly_size": 5}, headers=auth(admin)
    )
    assert ok.status_code == 200, ok.text
    # population half 3 seats (1 each), contribution half 2 seats (Webster, ties to the first)
    assert [m["seats"] for m in get(client, admin, "/council/members")["members"]] == [2, 2, 1]


# --- every list is paged ------------------------------------------------------------------


def pages(read: Callable[..., dict[str, Any]], items: str, key: str) -> list[list[int]]:
    """Every page of a list at limit 2, as the keys of its items."""
    found: list[list[int]] = []
    after = 0
    while True:
        page = read(after_id=after, limit=2)
        found.append([item[key] for item in page[items]])
        if page["next_after_id"] is None:
            return found
        after = page["next_after_id"]
        assert after == found[-1][-1]


def test_members_ballots_delegations_and_motions_are_read_a_page_at_a_time(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    _, trader = make_account("trader")
    keys = []
    ids = []
    for name, population in [("A", 1), ("B", 4), ("C", 9)]:
        account_id, key = make_account("council", f"acct-{name}")
        ids.append(created(client, admin, name, population, account_id=account_id))
        keys.append(key)
    a, b, c = ids

    def read(path: str) -> Callable[..., dict[str, Any]]:
        return lambda **params: get(client, trader, path, **params)

    assert pages(read("/council/members"), "members", "id") == [[a, b], [c]]

    deadline = (utcnow() + timedelta(days=1)).isoformat()
    motion_ids = []
    for title in ("one", "two", "three", "four"):
        filed = client.post(
            "/council/motions",
            json={"kind": "change_rules", "title": title, "payload": {"quorum": "0.6"},
                  "deadline": deadline},
            headers=auth(keys[0]),
        )  # fmt: skip
        assert filed.status_code == 201, filed.text
        motion_ids.append(filed.json()["id"])
    # four motions at limit 2: two full pages, then an empty one says there is no more
    assert pages(read("/council/motions"), "motions", "id") == [
        motion_ids[:2],
        motion_ids[2:],
        [],
    ]

    path = f"/council/motions/{motion_ids[0]}/ballots"
    ballot_ids = []
    for key, choice in zip(keys, ("yes", "no", "abstain"), strict=True):
        cast = client.post(path, json={"choice": choice}, headers=auth(key))
        assert cast.status_code == 201, cast.text
        ballot_ids.append(cast.json()["id"])
    assert pages(read(path), "ballots", "id") == [ballot_ids[:2], ballot_ids[2:]]
    is_problem(client.get(path, params={"limit": 0}, headers=auth(trader)), 422, "limit")
    is_problem(client.get("/council/motions/999/ballots", headers=auth(trader)), 404, "no motion")

    # delegations in force, by the delegating member: C → A, B → A, A → B; then B revokes
    for key, delegate in ((keys[2], a), (keys[1], a), (keys[0], b)):
        made = client.post(
            "/council/delegations", json={"delegate_id": delegate}, headers=auth(key)
        )
        assert made.status_code == 201, made.text
    assert pages(read("/council/delegations"), "delegations", "member_id") == [[a, b], [c]]
    revoked = client.post("/council/delegations", json={"delegate_id": None}, headers=auth(keys[1]))
    assert revoked.status_code == 201, revoked.text
    first = get(client, trader, "/council/delegations", limit=2)
    assert first == {
        "delegations": [{"member_id": a, "delegate_id": b}, {"member_id": c, "delegate_id": a}],
        "next_after_id": c,
    }
    assert get(client, trader, "/council/delegations", after_id=c) == {
        "delegations": [],
        "next_after_id": None,
    }
    for bad in ({"after_id": -1}, {"limit": 1001}, {"after_id": 2**31}):
        for list_path in ("/council/members", "/council/motions", "/council/delegations"):
            is_problem(
                client.get(list_path, params=bad, headers=auth(trader)), 422, next(iter(bad))
            )


# --- names --------------------------------------------------------------------------------


def test_member_names_are_normalised_and_cannot_impersonate_another(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    for name, code in [
        ("Fr\u200bance", "U+200B (ZERO WIDTH SPACE)"),
        ("\u202eecnarF", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("France\u2066", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
    ]:
        is_problem(
            member(client, admin, name, 1),
            422,
            f"the member name holds the invisible or direction-changing character {code}",
        )
    is_problem(
        member(client, admin, "France", 1, constituency="Fr\u200dance"), 422, "constituency holds"
    )
    is_problem(member(client, admin, "Fr\x00ance", 1), 422, "control character U+0000")

    # fullwidth letters are stored in their ordinary form, and then clash with it
    fullwidth = member(client, admin, "Ｆｒａｎｃｅ", 67_000_000)
    assert fullwidth.status_code == 201, fullwidth.text
    assert (fullwidth.json()["name"], fullwidth.json()["constituency"]) == ("France", "France")
    is_problem(member(client, admin, "France", 1), 409, "a council member named 'France' exists")
    germany = created(client, admin, "Germany", 83_000_000)
    is_problem(
        client.patch(
            f"/council/members/{germany}", json={"name": "Ｆｒａｎｃｅ"}, headers=auth(admin)
        ),
        409,
        "named 'France' exists already",
    )
    is_problem(
        client.patch(
            f"/council/members/{germany}", json={"name": "Ger\u200bmany"}, headers=auth(admin)
        ),
        422,
        "U+200B",
    )
    renamed = client.patch(
        f"/council/members/{germany}",
        json={"name": "Ｄｅｕｔｓｃｈｌａｎｄ", "constituency": "Federal Republic"},
        headers=auth(admin),
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["constituency"]) == (
        "Deutschland",
        "Federal Republic",
    )
    # 100 characters that NFKC spells out in 18 each (U+FDFA): too long once normalised,
    # refused before PostgreSQL's VARCHAR(100) could refuse it with an error
    is_problem(member(client, admin, "\ufdfa" * 100, 1), 422, "characters long once normalised")
    names = [m["name"] for m in get(client, admin, "/council/members")["members"]]
    assert names == ["France", "Deutschland"]
