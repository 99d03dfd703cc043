"""Metric versions over HTTP: a seated council member or an admin drafts a definition, which
is stored under the SHA-256 of its canonical JSON (the same definition is the same
version); anyone reads, lists and diffs versions; the version in force is the adopted one
(adoption only by motion, see tests/api/test_measurements.py); every refusal is
problem+json and changes nothing."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from fastapi.testclient import TestClient

from tests.helpers import MakeAccount, auth
from welfare.gapminder_data import HDI_LIKE_DEFINITION


def is_problem(response: Any, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert fragment in response.json()["detail"], response.json()["detail"]


def hdi_like(**changes: Any) -> dict[str, Any]:
    """The HDI-like demo definition: health 20–85 years and log income 100–75 000 USD,
    weights ½ and ½, weighted geometric mean, for the World."""
    data = copy.deepcopy(HDI_LIKE_DEFINITION)
    data.update(changes)
    return data


def with_weights(health: float, income: float) -> dict[str, Any]:
    data = hdi_like()
    data["components"][0]["weight"] = health
    data["components"][1]["weight"] = income
    return data


def steward_and_drafter(client: TestClient, make_account: MakeAccount) -> tuple[str, str]:
    """An admin who has defined lifeExp and gdpPercap, and a seated council member's key."""
    _, admin = make_account("admin")
    for key, unit in [("lifeExp", "years"), ("gdpPercap", "USD per person")]:
        made = client.post("/indicators", json={"key": key, "unit": unit}, headers=auth(admin))
        assert made.status_code == 201, made.text
    account_id, council = make_account("council", "speaker")
    seated = client.post(
        "/council/members",
        json={"name": "A", "population": 1_000_000, "account_id": account_id},
        headers=auth(admin),
    )
    assert seated.status_code == 201, seated.text
    return admin, council


def draft(client: TestClient, key: str, definition: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/metric-versions", json=definition, headers=auth(key))
    assert response.status_code in (200, 201), response.text
    version: dict[str, Any] = response.json()
    return version


def test_a_draft_is_keyed_by_its_hash_and_the_same_definition_is_the_same_version(
    client: TestClient, make_account: MakeAccount
) -> None:
    admin, council = steward_and_drafter(client, make_account)
    _, trader = make_account("trader")

    first = client.post("/metric-versions", json=hdi_like(), headers=auth(council))
    assert first.status_code == 201, first.text
    version = first.json()
    vid = version["version_id"]
    assert version["created"] is True
    assert hashlib.sha256(version["canonical"].encode()).hexdigest() == vid
    assert len(vid) == 64
    assert (version["status"], version["effective_from"], version["adopted_by_motion_id"]) == (
        "draft",
        None,
        None,
    )
    assert version["name"] == "HDI-like welfare (gapminder demo)"
    assert [c["key"] for c in version["definition"]["components"]] == ["health", "income"]

    # the same definition, keys shuffled, components reversed, 20.0 written 20, defaults
    # left out: the same version, 200 and not created
    rewritten = json.loads(json.dumps(hdi_like(), sort_keys=True))
    rewritten["components"].reverse()
    rewritten["components"][1]["normalisation"]["lo"] = 20
    del rewritten["components"][1]["log"]
    del rewritten["vintage_policy"]
    again = client.post("/metric-versions", json=rewritten, headers=auth(admin))
    assert again.status_code == 200, again.text
    assert (again.json()["version_id"], again.json()["created"]) == (vid, False)

    read = client.get(f"/metric-versions/{vid}", headers=auth(trader)).json()
    assert read == {k: v for k, v in version.items() if k != "created"}
    assert read["definition"]["components"][0]["normalisation"] == {
        "kind": "goalposts",
        "lo": 20.0,
        "hi": 85.0,
    }
    listed = client.get("/metric-versions", headers=auth(trader)).json()
    assert [v["version_id"] for v in listed["versions"]] == [vid]
    assert listed["next_after_id"] is None
    drafts = client.get("/metric-versions", params={"status": "draft"}, headers=auth(trader))
    assert [v["version_id"] for v in drafts.json()["versions"]] == [vid]
    adopted = client.get("/metric-versions", params={"status": "adopted"}, headers=auth(trader))
    assert adopted.json() == {"versions": [], "next_after_id": None}


def test_the_diff_names_the_changed_weights(client: TestClient, make_account: MakeAccount) -> None:
    _, council = steward_and_drafter(client, make_account)
    _, trader = make_account("trader")
    halves = draft(client, council, with_weights(0.5, 0.5))["version_id"]
    health_first = draft(client, council, with_weights(0.6, 0.4))["version_id"]
    assert halves != health_first

    diff = client.get(f"/metric-versions/{halves}/diff/{health_first}", headers=auth(trader))
    assert diff.status_code == 200, diff.text
    assert diff.json() == {
        "from_version_id": halves,
        "to_version_id": health_first,
        "changes": [
            {"path": "components.health.weight", "before": 0.5, "after": 0.6},
            {"path": "components.income.weight", "before": 0.5, "after": 0.4},
        ],
    }
    back = client.get(f"/metric-versions/{health_first}/diff/{halves}", headers=auth(trader))
    assert [(c["before"], c["after"]) for c in back.json()["changes"]] == [(0.6, 0.5), (0.4, 0.5)]
    same = client.get(f"/metric-versions/{halves}/diff/{halves}", headers=auth(trader))
    assert same.json()["changes"] == []

    arithmetic = draft(client, council, hdi_like(aggregation="weighted_arithmetic"))
    changes = client.get(
        f"/metric-versions/{halves}/diff/{arithmetic['version_id']}", headers=auth(trader)
    ).json()["changes"]
    assert changes == [
        {"path": "aggregation", "before": "weighted_geometric", "after": "weighted_arithmetic"}
    ]


def test_refused_drafts_are_problem_json_and_store_nothing(
    client: TestClient, make_account: MakeAccount
) -> None:
    admin, council = steward_and_drafter(client, make_account)
    _, trader = make_account("trader")
    _, unseated = make_account("council", "no-seat")

    def refused(definition: Any, status: int, fragment: str, key: str = council) -> None:
        is_problem(
            client.post("/metric-versions", json=definition, headers=auth(key)), status, fragment
        )

    refused(with_weights(0.6, 0.5), 422, "components: the weights must sum to 1, not 1.1")
    wrong_unit = hdi_like()
    wrong_unit["components"][1]["unit"] = "USD"
    refused(wrong_unit, 422, "says unit 'USD' but indicator 'gdpPercap' is in 'USD per person'")
    unknown_indicator = hdi_like()
    unknown_indicator["components"][0]["indicator"] = "gni"
    refused(unknown_indicator, 422, "reads indicator 'gni', which is unknown")
    unordered = hdi_like(lo=1.0, hi=0.0)
    unordered["components"][0]["normalisation"]["lo"] = 90.0
    response = client.post("/metric-versions", json=unordered, headers=auth(council))
    is_problem(response, 422, "the tradable bounds must be ordered, lo 1.0 < hi 0.0")
    assert "goalposts must be ordered, lo 90.0 < hi 85.0" in response.json()["detail"]
    as_text = hdi_like()
    as_text["components"][0]["weight"] = "0.5"
    refused(as_text, 422, "weight")
    refused(hdi_like(colour="red"), 422, "colour")
    refused(hdi_like(schema=2), 422, "schema")
    refused(hdi_like(components=[]), 422, "components")
    refused(hdi_like(), 403, "needs the council or admin role", key=trader)
    refused(hdi_like(), 409, "holds no council seat", key=unseated)
    is_problem(client.post("/metric-versions", json=hdi_like()), 401, "API key")
    assert client.get("/metric-versions", headers=auth(admin)).json()["versions"] == []

    is_problem(client.get("/metric-versions/abc", headers=auth(trader)), 422, "version_id")
    is_problem(client.get(f"/metric-versions/{'A' * 64}", headers=auth(trader)), 422, "64")
    unknown = "0" * 64
    is_problem(
        client.get(f"/metric-versions/{unknown}", headers=auth(trader)), 404, "no metric version"
    )
    is_problem(
        client.get(f"/metric-versions/{unknown}/diff/{'1' * 64}", headers=auth(trader)),
        404,
        "no metric version",
    )
    is_problem(
        client.get("/metric-versions", params={"status": "retired"}, headers=auth(trader)),
        422,
        "status",
    )


def test_no_version_is_in_force_until_a_motion_adopts_one(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, council = steward_and_drafter(client, make_account)
    draft(client, council, hdi_like())
    is_problem(
        client.get("/metric-versions/in-force", params={"on": "2030-01-01"}, headers=auth(council)),
        404,
        "no adopted metric version is in force on 2030-01-01",
    )
    is_problem(client.get("/metric-versions/in-force", headers=auth(council)), 404, "in force on")
    is_problem(
        client.get("/metric-versions/in-force", params={"on": "2030-02-30"}, headers=auth(council)),
        422,
        "on",
    )


def test_weights_of_1e308_are_a_422_naming_the_field_not_a_500(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, council = steward_and_drafter(client, make_account)
    response = client.post(
        "/metric-versions", json=with_weights(1e308, 1e308), headers=auth(council)
    )
    is_problem(
        response,
        422,
        "components[0].weight: 1e+308 is beyond the bound ±1e+06; send a number in [-1e+06, 1e+06]",
    )
    assert "components[1].weight: 1e+308 is beyond the bound" in response.json()["detail"]
    # goalposts, targets, scales and the tradable bounds: at most 1e15 in magnitude
    far = hdi_like(lo=-1e308)
    far["components"][0]["normalisation"] = {"lo": -1e300, "hi": 1e300}
    response = client.post("/metric-versions", json=far, headers=auth(council))
    detail = response.json()["detail"]
    is_problem(response, 422, "lo: -1e+308 is beyond the bound ±1e+15")
    assert "components[0].normalisation.lo: -1e+300 is beyond the bound ±1e+15" in detail
    assert "components[0].normalisation.hi: 1e+300 is beyond the bound ±1e+15" in detail
    # JSON that Python reads as a number but is not finite (NaN, Infinity)
    text = json.dumps(hdi_like()).replace('"hi": 1.0', '"hi": Infinity', 1)
    assert "Infinity" in text
    response = client.post(
        "/metric-versions",
        content=text,
        headers={**auth(council), "Content-Type": "application/json"},
    )
    is_problem(response, 422, "hi: must be a finite number, not inf")
    assert client.get("/metric-versions", headers=auth(council)).json()["versions"] == []


def test_three_independent_faults_are_named_in_one_422(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, council = steward_and_drafter(client, make_account)
    # an absurd weight, goalposts the wrong way round, and an indicator nobody defined
    faults = hdi_like()
    faults["components"][0]["weight"] = 1e308
    faults["components"][0]["normalisation"] = {"lo": 85.0, "hi": 20.0}
    faults["components"][1]["indicator"] = "gni"
    response = client.post("/metric-versions", json=faults, headers=auth(council))
    is_problem(response, 422, "the metric definition is invalid")
    detail = response.json()["detail"]
    assert detail.startswith("the metric definition is invalid (3 problems): (1) "), detail
    for fragment in (
        "(1) components[0].weight: 1e+308 is beyond the bound",
        "(2) components[0].normalisation: goalposts must be ordered, lo 85.0 < hi 20.0",
        "(3) components[1].indicator: component 'income' reads indicator 'gni', which is unknown",
    ):
        assert fragment in detail

    # a type error no longer hides the others: a weight sent as text, an unknown field and a
    # unit that disagrees with its indicator, all in the one answer
    typed = hdi_like(colour="red")
    typed["components"][0]["weight"] = "0.5"
    typed["components"][1]["unit"] = "USD"
    response = client.post("/metric-versions", json=typed, headers=auth(council))
    detail = response.json()["detail"]
    is_problem(response, 422, "components[0].weight: must be a number, not '0.5'")
    assert "colour: is not a field of a metric definition" in detail
    assert "components[1].unit: component 'income' says unit 'USD'" in detail
    # (the weights are not also said not to sum to 1: one fault, one problem)
    assert "sum to 1" not in detail
    assert client.get("/metric-versions", headers=auth(council)).json()["versions"] == []


def test_versions_are_read_a_page_at_a_time(client: TestClient, make_account: MakeAccount) -> None:
    _, council = steward_and_drafter(client, make_account)
    made = [
        draft(client, council, with_weights(health, 1 - health))["version_id"]
        for health in (0.25, 0.5, 0.75)
    ]

    def page(**params: Any) -> dict[str, Any]:
        response = client.get("/metric-versions", params=params, headers=auth(council))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    first = page(limit=2)
    assert [v["version_id"] for v in first["versions"]] == made[:2]
    assert first["next_after_id"] == 2
    second = page(limit=2, after_id=first["next_after_id"])
    assert [v["version_id"] for v in second["versions"]] == made[2:]
    assert second["next_after_id"] is None
    assert page(limit=3)["next_after_id"] == 3  # a full page: one more (empty) page to read
    assert page(limit=3, after_id=3) == {"versions": [], "next_after_id": None}
    for bad in ({"limit": 0}, {"limit": 1001}, {"after_id": -1}):
        is_problem(
            client.get("/metric-versions", params=bad, headers=auth(council)),
            422,
            next(iter(bad)),
        )
