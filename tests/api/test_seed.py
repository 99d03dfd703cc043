"""The `make run` demo: created once, idempotent across restarts, its keys work, and its
council passes a motion through the API alone, as the README shows a newcomer."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.money import parse_micros
from api.seed import (
    ADMIN_CASH,
    DEMO_COUNCILLOR,
    DEMO_SUBSIDY,
    DEMO_TRADERS,
    TRADER_CASH,
    TRADER_SPLIT,
    DemoSeat,
    seed_demo,
)
from db.identity import Account, ApiKey, Role, create_account
from db.session import Database
from market.conservation import check_conservation
from market.models import Proposal
from tests.helpers import auth
from welfare.council_seed import Bloc, seat_blocs, seed_demo_council
from welfare.errors import InvalidWelfareInput
from welfare.gapminder_data import country_populations
from welfare.members import list_members, update_member
from welfare.motions import delegations_in_force

COUNCIL_ACCOUNTS = (
    "councillor",
    "councillor-africa",
    "councillor-americas",
    "councillor-europe",
    "councillor-oceania",
)


def _micros(amount: str) -> int:
    """An amount the API wrote, as micro-units (the API's own parser, signs allowed)."""
    return parse_micros(amount, positive=False, allow_negative=True)


def test_the_demo_is_seeded_once_and_a_restart_mints_no_key(
    client: TestClient, db: Database
) -> None:
    with db.write() as session:
        first = seed_demo(session)
    with db.write() as session:
        second = seed_demo(session)
    assert first.created is True
    assert [k.name for k in first.keys] == ["admin", *COUNCIL_ACCOUNTS, *DEMO_TRADERS]
    assert [k.role for k in first.keys] == [Role.ADMIN] + [Role.COUNCIL] * 5 + [Role.TRADER] * 3
    assert second.created is False
    assert second.keys == ()  # keys are stored hashed: a restart cannot show one, mints none
    assert second.accounts == first.accounts
    assert second.proposal_id == first.proposal_id
    assert second.finished_proposal_id == first.finished_proposal_id is not None
    with db.read() as session:
        assert session.scalar(select(func.count(Proposal.id))) == 2  # open and finished
        assert session.scalar(select(func.count(Account.id))) == 1 + 5 + len(DEMO_TRADERS)
        assert session.scalar(select(func.count(ApiKey.id))) == 1 + 5 + len(DEMO_TRADERS)
        assert check_conservation(session).ok

    admin_key = first.key("admin")
    assert client.get("/accounts/me", headers=auth(admin_key)).json()["role"] == "admin"
    admin = client.get("/me/balances", headers=auth(admin_key)).json()
    finished = client.get(
        f"/proposals/{first.finished_proposal_id}/settlement", headers=auth(admin_key)
    ).json()
    assert finished["kind"] == "settled"
    assert finished["measurement"]["period"] == "2007"
    sponsor_return = _micros(finished["sponsor"]["paid"])
    assert _micros(admin["cash"]) == ADMIN_CASH - 2 * DEMO_SUBSIDY + sponsor_return

    proposal = client.get(f"/proposals/{first.proposal_id}", headers=auth(admin_key)).json()
    assert proposal["status"] == "open"
    assert [m["branch_name"] for m in proposal["markets"]] == [
        "Leave at 17",
        "Leave at 18",
        "Status quo",
    ]
    assert {m["trading"] for m in proposal["markets"]} == {True}

    alice = first.key("alice")
    balances = client.get(
        f"/me/balances?proposal_id={first.proposal_id}", headers=auth(alice)
    ).json()
    (ended,) = client.get("/me/settlements", headers=auth(alice)).json()["settlements"]
    assert ended["proposal_id"] == first.finished_proposal_id
    assert ended["deposit"] == "100"
    assert _micros(balances["cash"]) == TRADER_CASH - TRADER_SPLIT + _micros(ended["profit"])
    assert {b["cash"] for b in balances["branches"]} == {str(TRADER_SPLIT // 1_000_000)}
    market = proposal["markets"][0]["id"]
    trade = client.post(
        f"/markets/{market}/trades",
        json={"outcome": 0, "side": "buy", "shares": "10"},
        headers={**auth(alice), "Idempotency-Key": "demo-1"},
    )
    assert trade.status_code == 201


def test_the_demo_council_votes_in_continental_blocs_under_penrose_seats(db: Database) -> None:
    with db.write() as session:
        report = seed_demo(session)
    assert report.total_seats == 800
    assert (report.quorum, report.threshold, report.quorum_seats) == ("0.5", "0.5", 400)
    assert report.council == (
        DemoSeat("councillor", "Asia", "China", 295),
        DemoSeat("councillor-africa", "Africa", "Nigeria", 221),
        DemoSeat("councillor-americas", "Americas", "United States", 139),
        DemoSeat("councillor-europe", "Europe", "Germany", 138),
        DemoSeat("councillor-oceania", "Oceania", "Australia", 7),
    )
    with db.write() as session:
        again = seed_demo(session)
    assert again.council == report.council  # no second seat, no second delegation
    with db.read() as session:
        members = list_members(session)
        assert len(members) == 142
        assert sum(m.seats for m in members) == 800
        assert max(m.seats for m in members) == 44  # China: Penrose seats are unchanged
        seated = {m.name for m in members if m.account_id is not None}
        assert seated == {"China", "Nigeria", "United States", "Germany", "Australia"}
        assert len(delegations_in_force(session)) == 142 - 5


def test_a_demo_seeded_by_an_older_version_gains_the_blocs_and_keys_only_for_new_accounts(
    db: Database,
) -> None:
    with db.write() as session:  # the old demo: councillor alone, on China's seat
        councillor = create_account(session, DEMO_COUNCILLOR, "council")
        members = seed_demo_council(session, country_populations())
        china = next(m for m in members if m.name == "China")
        update_member(session, china.id, account_id=councillor.id)
    with db.write() as session:
        report = seed_demo(session)
    assert [k.name for k in report.keys] == [
        "admin",
        *COUNCIL_ACCOUNTS[1:],
        *DEMO_TRADERS,
    ]
    assert report.council[0] == DemoSeat("councillor", "Asia", "China", 295)


def test_the_demo_council_adopted_the_gapminder_metric_the_proposal_trades(
    client: TestClient, db: Database
) -> None:
    with db.write() as session:
        report = seed_demo(session)
    with db.write() as session:
        again = seed_demo(session)
    assert again.metric_version_id == report.metric_version_id
    key = report.key("councillor")
    version = client.get(f"/metric-versions/{report.metric_version_id}", headers=auth(key)).json()
    assert version["status"] == "adopted"
    assert version["name"] == "HDI-like welfare (gapminder demo)"
    motions = client.get("/council/motions", headers=auth(key)).json()["motions"]
    # one adoption and the finished demo's certification; the restart filed no more
    assert [m["kind"] for m in motions] == ["adopt_metric_version", "certify_measurement"]
    assert motions[0]["id"] == version["adopted_by_motion_id"]
    assert version["effective_from"] == "2002-01-01"  # the finished demo replays 2002
    assert {m["result"]["outcome"] for m in motions} == {"passed"}
    proposal = client.get(f"/proposals/{report.proposal_id}", headers=auth(key)).json()
    assert proposal["metric_version_id"] == report.metric_version_id
    assert (proposal["lo"], proposal["hi"]) == (0.0, 1.0)
    assert {m["expected_welfare"] for m in proposal["markets"]} == {0.5}
    preview = client.post(
        "/measurements/preview",
        json={"version_id": report.metric_version_id, "period": "2007", "cutoff": "2010-01-01"},
        headers=auth(key),
    )
    assert preview.status_code == 200, preview.text
    assert 0.6 < preview.json()["value"] < 0.8


def test_a_newcomer_files_votes_and_passes_a_motion_with_the_demo_council_keys(
    client: TestClient, db: Database
) -> None:
    """The README's "Try the council", request for request (the wait shortened to seconds)."""
    with db.write() as session:
        report = seed_demo(session)
    asia, africa = report.key("councillor"), report.key("councillor-africa")
    rules = client.get("/council/rules", headers=auth(asia)).json()
    assert (rules["quorum"], rules["threshold"]) == ("0.5", "0.5")

    deadline = (datetime.now(UTC) + timedelta(seconds=3)).isoformat().replace("+00:00", "Z")
    motion = {
        "kind": "change_rules",
        "title": "Require a two-thirds majority",
        "payload": {"threshold": "2/3"},
        "deadline": deadline,
    }
    filed = client.post("/council/motions", json=motion, headers=auth(asia))
    assert filed.status_code == 201, filed.text
    assert filed.json()["status"] == "open"
    alone = client.post(
        "/council/motions", json={**motion, "title": "Asia alone"}, headers=auth(asia)
    )
    assert alone.status_code == 201, alone.text
    motion_id, alone_id = filed.json()["id"], alone.json()["id"]

    for key in (asia, africa):
        ballot = client.post(
            f"/council/motions/{motion_id}/ballots", json={"choice": "yes"}, headers=auth(key)
        )
        assert ballot.status_code == 201, ballot.text
    ballot = client.post(
        f"/council/motions/{alone_id}/ballots", json={"choice": "yes"}, headers=auth(asia)
    )
    assert ballot.status_code == 201, ballot.text

    too_soon = client.post(f"/council/motions/{motion_id}/decide", headers=auth(asia))
    assert too_soon.status_code == 409
    time.sleep(max(0.0, (datetime.fromisoformat(deadline) - datetime.now(UTC)).total_seconds()))
    time.sleep(0.1)

    decided = client.post(f"/council/motions/{motion_id}/decide", headers=auth(asia))
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "passed"
    result = decided.json()["result"]
    assert (result["yes_weight"], result["no_weight"], result["total_weight"]) == (516, 0, 800)
    assert result["quorum_met"] is True  # 295 + 221 = 516 ≥ 400
    assert result["effect_status"] == "applied"
    assert client.get("/council/rules", headers=auth(asia)).json()["threshold"] == "2/3"

    rejected = client.post(f"/council/motions/{alone_id}/decide", headers=auth(africa))
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["result"]["yes_weight"] == 295
    assert rejected.json()["result"]["quorum_met"] is False  # one bloc: 295 < 400


def test_a_member_cannot_be_in_two_blocs(db: Database) -> None:
    with db.write() as session:
        asia = create_account(session, "asia", "council")
        europe = create_account(session, "europe", "council")
        seed_demo_council(session, [("Turkey", 70_000_000), ("France", 60_000_000)], seats=10)
        blocs = [
            Bloc("Asia", asia.id, frozenset({"Turkey"})),
            Bloc("Europe", europe.id, frozenset({"Turkey", "France"})),
        ]
        with pytest.raises(InvalidWelfareInput, match="Turkey cannot be in two blocs"):
            seat_blocs(session, blocs)


def test_the_finished_demo_shows_a_whole_life(client: TestClient, db: Database) -> None:
    """Traded in 2002, decided at its close by the markets, settled on the World's 2007
    welfare certified by the demo council: a newcomer sees every step through the API."""
    with db.write() as session:
        report = seed_demo(session)
    key = report.key("alice")
    settled = client.get("/proposals?status=settled", headers=auth(key)).json()["proposals"]
    assert [p["id"] for p in settled] == [report.finished_proposal_id]
    done = settled[0]
    assert (done["opens_at"][:10], done["decides_at"][:10]) == ("2002-01-01", "2002-12-31")
    decision = client.get(f"/proposals/{done['id']}/decision", headers=auth(key)).json()
    assert decision["executed_index"] == 1  # 'Leave at 18', where alice bought LONG
    settlement = client.get(f"/proposals/{done['id']}/settlement", headers=auth(key)).json()
    assert settlement["kind"] == "settled"
    assert settlement["executed_branch_name"] == "Leave at 18"
    assert 0.6 < settlement["measurement"]["welfare_value"] < 0.8
    assert settlement["traders"] == 3
    with db.read() as session:
        assert check_conservation(session).ok
