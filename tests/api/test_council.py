"""The council over HTTP: members and seats, rules, the power table, motions, ballots,
delegations and decisions; every refusal is problem+json and changes nothing."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from db.types import utcnow
from tests.helpers import MakeAccount, auth


def create_member(
    client: TestClient, admin_key: str, name: str, population: int, **extra: Any
) -> dict[str, Any]:
    response = client.post(
        "/council/members",
        json={"name": name, "constituency": name, "population": population, **extra},
        headers=auth(admin_key),
    )
    assert response.status_code == 201, response.text
    member: dict[str, Any] = response.json()
    return member


def seated(
    client: TestClient, make_account: MakeAccount, admin_key: str, name: str, population: int
) -> tuple[int, str]:
    """A council account with a seat: (member id, API key)."""
    account_id, key = make_account("council", f"acct-{name}")
    member = create_member(client, admin_key, name, population, account_id=account_id)
    return member["id"], key


def is_problem(response: Any, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert fragment in response.json()["detail"]


def test_admin_seats_a_council_and_anyone_reads_seats_rules_and_power(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    _, trader = make_account("trader")
    for name, population in [("A", 1_000_000), ("B", 4_000_000), ("C", 9_000_000)]:
        create_member(client, admin, name, population)

    members = client.get("/council/members", headers=auth(trader)).json()["members"]
    assert [(m["name"], m["seats"]) for m in members] == [("A", 133), ("B", 267), ("C", 400)]
    rules = client.get("/council/rules", headers=auth(trader)).json()
    assert rules["assembly_size"] == 800
    assert rules["method"] == "penrose"
    assert (rules["quorum"], rules["threshold"], rules["version_id"]) == ("0.5", "0.5", None)

    changed = client.patch(
        "/council/rules", json={"assembly_size": 12, "threshold": "2/3"}, headers=auth(admin)
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["threshold"] == "2/3"
    members = client.get("/council/members", headers=auth(trader)).json()["members"]
    assert [m["seats"] for m in members] == [2, 4, 6]

    power = client.get("/council/power", headers=auth(trader)).json()
    # 12 seats, threshold 2/3: quota 9; the winning sets are {B, C} and {A, B, C}, so B and
    # C swing in both and A in none
    assert (power["quota"], power["total_seats"], power["threshold"]) == (9, 12, "2/3")
    assert [r["banzhaf"] for r in power["rows"]] == ["0", "0.5", "0.5"]
    assert [r["shapley_shubik"] for r in power["rows"]] == ["0", "0.5", "0.5"]
    assert [r["weight_share"] for r in power["rows"]] == ["1/6", "1/3", "0.5"]
    assert power["jagiellonian_threshold"] == pytest.approx(0.5 * (1 + 14_000_000**0.5 / 6000))

    explored = client.get("/council/power", params={"threshold": "0.5"}, headers=auth(trader))
    assert explored.json()["quota"] == 7

    is_problem(
        client.post("/council/members", json={"name": "D", "population": 1}, headers=auth(trader)),
        403,
        "admin role",
    )


def test_the_eec_1958_council_power_table(client: TestClient, make_account: MakeAccount) -> None:
    _, admin = make_account("admin")
    for name, weight in zip(["FR", "DE", "IT", "BE", "NL", "LU"], [4, 4, 4, 2, 2, 1], strict=True):
        create_member(client, admin, name, 10**6, explicit_weight=weight)
    response = client.patch(
        "/council/rules", json={"method": "explicit", "threshold": "2/3"}, headers=auth(admin)
    )
    assert response.status_code == 200, response.text
    power = client.get("/council/power", headers=auth(admin)).json()
    assert power["quota"] == 12
    assert [r["banzhaf"] for r in power["rows"]] == ["5/21"] * 3 + ["1/7"] * 2 + ["0"]
    assert [r["shapley_shubik"] for r in power["rows"]] == ["7/30"] * 3 + ["0.15"] * 2 + ["0"]
    assert [r["swings"] for r in power["rows"]] == ["10", "10", "10", "6", "6", "0"]


def test_a_motion_from_filing_to_decision(client: TestClient, make_account: MakeAccount) -> None:
    _, admin = make_account("admin")
    _, trader = make_account("trader")
    _, unseated = make_account("council", "no-seat")
    a, key_a = seated(client, make_account, admin, "A", 1_000_000)
    b, key_b = seated(client, make_account, admin, "B", 4_000_000)
    c, key_c = seated(client, make_account, admin, "C", 9_000_000)

    deadline = utcnow() + timedelta(seconds=1.5)
    filed = client.post(
        "/council/motions",
        json={
            "kind": "change_rules",
            "title": "Require two thirds",
            "payload": {"threshold": "0.6666666667"},
            "deadline": deadline.isoformat(),
        },
        headers=auth(key_a),
    )
    assert filed.status_code == 201, filed.text
    motion = filed.json()
    assert motion["status"] == "open"
    assert motion["payload"] == {"threshold": "0.6666666667"}
    assert motion["filed_by_member_id"] == a
    path = f"/council/motions/{motion['id']}"

    assert (
        client.post(f"{path}/ballots", json={"choice": "yes"}, headers=auth(key_c)).status_code
        == 201
    )
    delegated = client.post("/council/delegations", json={"delegate_id": c}, headers=auth(key_b))
    assert delegated.status_code == 201
    assert (
        client.post(f"{path}/ballots", json={"choice": "no"}, headers=auth(key_a)).status_code
        == 201
    )

    is_problem(
        client.post(f"{path}/ballots", json={"choice": "yes"}, headers=auth(key_a)),
        409,
        "a ballot cannot be changed",
    )
    is_problem(
        client.post(f"{path}/ballots", json={"choice": "yes"}, headers=auth(unseated)),
        409,
        "holds no council seat",
    )
    is_problem(
        client.post(f"{path}/ballots", json={"choice": "yes"}, headers=auth(trader)),
        403,
        "council role",
    )
    is_problem(client.post(f"{path}/decide", headers=auth(key_b)), 409, "only after its deadline")

    ballots = client.get(f"{path}/ballots", headers=auth(trader)).json()
    assert [(x["member_id"], x["choice"]) for x in ballots["ballots"]] == [(c, "yes"), (a, "no")]
    assert ballots["next_after_id"] is None
    assert client.get("/council/delegations", headers=auth(trader)).json() == {
        "delegations": [{"member_id": b, "delegate_id": c}],
        "next_after_id": None,
    }

    time.sleep(max(0.0, (deadline - utcnow()).total_seconds()) + 0.05)
    is_problem(
        client.post(f"{path}/ballots", json={"choice": "yes"}, headers=auth(key_b)),
        409,
        "closed at",
    )
    assert client.get(path, headers=auth(trader)).json()["status"] == "awaiting_decision"
    is_problem(client.post(f"{path}/decide", headers=auth(trader)), 403, "council or admin")

    decided = client.post(f"{path}/decide", headers=auth(admin))
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["status"] == "passed"
    result = body["result"]
    assert (result["yes_weight"], result["no_weight"], result["lost_weight"]) == (667, 133, 0)
    assert result["effect_status"] == "applied"
    assert result["effect_detail"] == "rules now: quorum 0.5, threshold 0.6666666667"
    assert [row["carried_by"] for row in result["breakdown"]] == [a, c, c]

    rules = client.get("/council/rules", headers=auth(trader)).json()
    assert rules["threshold"] == "0.6666666667"
    assert rules["set_by_motion_id"] == motion["id"]
    is_problem(client.post(f"{path}/decide", headers=auth(key_c)), 409, "decided already")
    listed = client.get("/council/motions", headers=auth(trader)).json()
    assert [m["status"] for m in listed["motions"]] == ["passed"]
    assert listed["next_after_id"] is None


def test_refusals_are_problem_json_and_change_nothing(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    a, key_a = seated(client, make_account, admin, "A", 1_000_000)
    seated(client, make_account, admin, "B", 4_000_000)
    soon = (utcnow() + timedelta(days=1)).isoformat()

    def file(payload: Any, deadline: str = soon, kind: str = "change_rules") -> Any:
        body = {"kind": kind, "title": "t", "payload": payload, "deadline": deadline}
        return client.post("/council/motions", json=body, headers=auth(key_a))

    is_problem(file({"threshold": "0.3"}), 422, "at least 0.5 and below 1")
    is_problem(file({"quorum": "0.5", "seats": 3}), 422, "unknown: seats")
    is_problem(
        file({"quorum": "0.5"}, deadline="2020-01-01T00:00:00+00:00"), 422, "not in the future"
    )
    is_problem(file({"quorum": "0.5"}, deadline="2030-01-01T00:00:00"), 422, "deadline")
    is_problem(file({"quorum": "0.5"}, kind="abolish"), 422, "kind")
    assert client.get("/council/motions", headers=auth(admin)).json()["motions"] == []

    is_problem(client.get("/council/motions/7", headers=auth(admin)), 404, "no motion with id 7")
    is_problem(client.get("/council/members/99", headers=auth(admin)), 404, "no council member")
    is_problem(client.get(f"/council/members/{2**40}", headers=auth(admin)), 422, "member_id")
    is_problem(
        client.patch("/council/rules", json={"quorum": "1.5"}, headers=auth(admin)),
        422,
        "quorum must lie between 0 and 1",
    )
    is_problem(
        client.patch("/council/rules", json={"assembly_size": 1}, headers=auth(admin)),
        422,
        "at least 2 seats",
    )
    is_problem(
        client.patch("/council/rules", json={"method": "explicit"}, headers=auth(admin)),
        422,
        "weight for every member",
    )
    assert client.get("/council/rules", headers=auth(admin)).json()["version_id"] is None
    is_problem(
        client.get("/council/power", params={"threshold": "half"}, headers=auth(admin)),
        422,
        "decimal like",
    )
    is_problem(
        client.post("/council/delegations", json={"delegate_id": a}, headers=auth(key_a)),
        422,
        "cannot delegate to itself",
    )
    is_problem(
        client.post("/council/delegations", json={"delegate_id": 99}, headers=auth(key_a)),
        404,
        "no council member with id 99",
    )
    assert client.get("/council/delegations", headers=auth(admin)).json()["delegations"] == []
    members_before = client.get("/council/members", headers=auth(admin)).json()
    is_problem(
        client.post("/council/members", json={"name": "A", "population": 5}, headers=auth(admin)),
        409,
        "named 'A' exists already",
    )
    is_problem(
        client.post(
            "/council/members",
            json={"name": "Z", "population": 5, "account_id": 999},
            headers=auth(admin),
        ),
        404,
        "no account with id 999",
    )
    assert client.get("/council/members", headers=auth(admin)).json() == members_before


def test_member_update_links_an_account_and_revokes_delegation(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    a = create_member(client, admin, "A", 1_000_000)
    b = create_member(client, admin, "B", 1_000_000)
    account_id, key = make_account("council", "speaker")
    is_problem(
        client.post("/council/delegations", json={"delegate_id": b["id"]}, headers=auth(key)),
        409,
        "holds no council seat",
    )
    linked = client.patch(
        f"/council/members/{a['id']}",
        json={"account_id": account_id, "population": 9_000_000},
        headers=auth(admin),
    )
    assert linked.status_code == 200, linked.text
    assert (linked.json()["account_id"], linked.json()["seats"]) == (account_id, 600)
    made = client.post("/council/delegations", json={"delegate_id": b["id"]}, headers=auth(key))
    assert made.status_code == 201
    revoked = client.post("/council/delegations", json={"delegate_id": None}, headers=auth(key))
    assert revoked.json()["delegate_id"] is None
    assert client.get("/council/delegations", headers=auth(key)).json()["delegations"] == []
    cleared = client.patch(
        f"/council/members/{a['id']}", json={"account_id": None}, headers=auth(admin)
    )
    assert cleared.json()["account_id"] is None
    assert cleared.json()["population"] == 9_000_000


def test_council_routes_declare_their_errors(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        if path.startswith("/council")
        for method, op in item.items()
    ]
    assert len(operations) == 15
    for path, method, op in operations:
        errors = {code for code in op["responses"] if code.startswith("4")}
        assert "401" in errors, (path, method)
        if method in {"post", "patch"}:
            assert {"403", "422"} <= errors, (path, method)
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in errors, (path, method)  # a parameter or a body can be malformed
        if any(p["in"] == "path" for p in op.get("parameters", [])):
            assert "404" in errors, (path, method)  # the id can name nothing
        for code in errors:
            assert "application/problem+json" in op["responses"][code]["content"], (path, code)
    listed = {path for path, method, op in operations if op["operationId"].startswith("list_")}
    assert listed == {
        "/council/members",
        "/council/motions",
        "/council/motions/{motion_id}/ballots",
        "/council/delegations",
    }
    for path in listed:
        names = {p["name"] for p in spec["paths"][path]["get"]["parameters"]}
        assert {"after_id", "limit"} <= names, path
