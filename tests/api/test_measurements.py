"""Measurements over HTTP: a seated council member or an admin computes a version's welfare
value from the data known at a cut-off (stored, once per Idempotency-Key, or only
previewed); anyone reads it with its breakdown, a page at a time; adoption and
certification happen only by council motion; every refusal is problem+json and changes
nothing."""

from __future__ import annotations

import copy
import math
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from db.types import utcnow
from tests.helpers import MakeAccount, auth
from welfare.gapminder_data import HDI_LIKE_DEFINITION

# World 2007: life expectancy 67 years, GDP 9 000 USD per head, published 1 January 2009.
# health = (67 − 20) / (85 − 20) = 47/65; income = ln(9000/100) / ln(75000/100) = ln 90 / ln 750
HEALTH = 47 / 65  # 0.72308
INCOME = math.log(90) / math.log(750)  # 0.67972
W = math.sqrt(HEALTH * INCOME)  # 0.70106, the equally weighted geometric mean


def is_problem(response: Any, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert fragment in response.json()["detail"], response.json()["detail"]


def hdi_like(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(HDI_LIKE_DEFINITION)
    data.update(changes)
    return data


def world_2007(client: TestClient, make_account: MakeAccount) -> tuple[str, str]:
    """The admin's indicators and World data (with standard errors), and a seated council
    member: ``(admin key, council key)``."""
    _, admin = make_account("admin")
    for key, unit in [("lifeExp", "years"), ("gdpPercap", "USD per person")]:
        assert client.post(
            "/indicators", json={"key": key, "unit": unit}, headers=auth(admin)
        ).is_success
    csv = (
        "indicator,entity,period,value,release_date,std_error\n"
        "lifeExp,World,2007,67,2009-01-01,0.5\n"
        "gdpPercap,World,2007,9000,2009-01-01,300\n"
        "lifeExp,World,2002,65,2009-01-01,\n"
        "gdpPercap,World,2002,7500,2009-01-01,\n"
    )
    imported = client.post(
        "/indicators/observations.csv",
        content=csv.encode(),
        headers={**auth(admin), "Content-Type": "text/csv"},
    )
    assert imported.json()["imported"] == 4, imported.text
    account_id, council = make_account("council", "speaker")
    seated = client.post(
        "/council/members",
        json={"name": "A", "population": 1_000_000, "account_id": account_id},
        headers=auth(admin),
    )
    assert seated.status_code == 201, seated.text
    return admin, council


def draft(client: TestClient, key: str, definition: dict[str, Any] | None = None) -> str:
    response = client.post("/metric-versions", json=definition or hdi_like(), headers=auth(key))
    assert response.status_code == 201, response.text
    vid: str = response.json()["version_id"]
    return vid


def measurement_body(vid: str, **changes: Any) -> dict[str, Any]:
    return {"version_id": vid, "period": 2007, "cutoff": "2010-01-01", **changes}


def store(client: TestClient, key: str, body: dict[str, Any], idem: str | None = None) -> Any:
    """POST /measurements with an Idempotency-Key (a fresh one unless given)."""
    headers = {**auth(key), "Idempotency-Key": idem or uuid.uuid4().hex}
    return client.post("/measurements", json=body, headers=headers)


def listed_ids(client: TestClient, key: str, **params: Any) -> list[int]:
    """The ids on the first page of ``GET /measurements``."""
    response = client.get("/measurements", params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    return [m["id"] for m in response.json()["measurements"]]


def test_an_hdi_like_version_measured_over_http_gives_the_hand_computed_value(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, council = world_2007(client, make_account)
    _, trader = make_account("trader")
    vid = draft(client, council)

    preview = client.post(
        "/measurements/preview", json=measurement_body(vid), headers=auth(council)
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["value"] == pytest.approx(W)
    assert listed_ids(client, trader) == []  # stored nothing

    made = store(client, council, measurement_body(vid))
    assert made.status_code == 201, made.text
    measurement = made.json()
    assert measurement["value"] == pytest.approx(0.701064, abs=1e-6)
    assert (measurement["entity"], measurement["period"], measurement["cutoff"]) == (
        "World",
        "2007",
        "2010-01-01",
    )
    health, income = measurement["components"]
    assert (health["key"], health["status"], health["raw"]) == ("health", "observed", 67.0)
    assert health["normalised"] == pytest.approx(HEALTH)
    assert health["weight"] == 0.5
    assert health["contribution"] == pytest.approx(math.sqrt(HEALTH))  # s^w = 0.85034
    assert (income["raw"], income["transformed"]) == (9000.0, pytest.approx(math.log(9000)))
    assert income["normalised"] == pytest.approx(INCOME)
    assert income["contribution"] == pytest.approx(math.sqrt(INCOME))  # 0.82445
    assert health["contribution"] * income["contribution"] == pytest.approx(W)
    assert income["release_date"] == "2009-01-01"
    assert measurement["missing"] == {
        "policy": "fail",
        "carried_forward": {},
        "dropped": [],
        "reweighted": False,
    }
    assert (measurement["monte_carlo"], measurement["uncertainty"]) == (0, None)
    assert measurement["certification"] is None

    mid = measurement["id"]
    assert client.get(f"/measurements/{mid}", headers=auth(trader)).json() == measurement
    assert preview.json() == {
        k: v
        for k, v in measurement.items()
        if k not in {"id", "computed_by_account_id", "computed_at", "certification"}
    }

    assert listed_ids(client, trader, version_id=vid, period="2007", certified="false") == [mid]
    assert listed_ids(client, trader, certified="true") == []
    assert listed_ids(client, trader, period="2002") == []
    assert listed_ids(client, trader, version_id="0" * 64) == []


def test_monte_carlo_draws_are_bounded_and_a_seed_reproduces_them(
    client: TestClient, make_account: MakeAccount
) -> None:
    admin, council = world_2007(client, make_account)
    vid = draft(client, council)
    body = measurement_body(vid, monte_carlo=2_000, seed=7)
    first = client.post("/measurements/preview", json=body, headers=auth(admin)).json()
    second = client.post("/measurements/preview", json=body, headers=auth(admin)).json()
    uncertainty = first["uncertainty"]
    assert uncertainty == second["uncertainty"]
    assert (uncertainty["draws"], uncertainty["seed"]) == (2_000, 7)
    assert uncertainty["p5"] < W < uncertainty["p95"]
    assert uncertainty["mean"] == pytest.approx(W, abs=0.01)
    assert first["value"] == pytest.approx(W)  # the point value never uses the draws
    is_problem(
        client.post(
            "/measurements/preview",
            json=measurement_body(vid, monte_carlo=100_001),
            headers=auth(admin),
        ),
        422,
        "monte_carlo",
    )


def test_refused_measurements_are_problem_json_and_store_nothing(
    client: TestClient, make_account: MakeAccount
) -> None:
    admin, council = world_2007(client, make_account)
    _, trader = make_account("trader")
    _, unseated = make_account("council", "no-seat")
    vid = draft(client, council)

    def refused(body: Any, status: int, fragment: str, key: str = council) -> None:
        is_problem(store(client, key, body), status, fragment)
        is_problem(
            client.post("/measurements/preview", json=body, headers=auth(key)), status, fragment
        )

    refused(
        measurement_body(vid, cutoff="2008-12-31"),
        409,
        "component 'health' (lifeExp for World, 2007) has no value released by 2008-12-31",
    )
    refused(measurement_body(vid, period=2012), 409, "the missing-data policy is fail")
    refused(measurement_body("f" * 64), 404, "no metric version with id")
    refused(measurement_body(vid[:12]), 422, "version_id")
    refused(measurement_body(vid, period="2007-Q5"), 422, "a quarter (2007-Q3)")
    refused(measurement_body(vid, period=True), 422, "period")
    refused(measurement_body(vid, cutoff="2010"), 422, "YYYY-MM-DD")
    refused(measurement_body(vid, seed=-1), 422, "seed")
    refused(measurement_body(vid, draws=10), 422, "draws")
    refused(measurement_body(vid), 403, "needs the council or admin role", key=trader)
    refused(measurement_body(vid), 409, "holds no council seat", key=unseated)
    assert listed_ids(client, admin) == []

    is_problem(client.get("/measurements/7", headers=auth(trader)), 404, "no measurement with id 7")
    is_problem(client.get(f"/measurements/{2**31}", headers=auth(trader)), 422, "measurement_id")
    is_problem(
        client.get("/measurements", params={"certified": "maybe"}, headers=auth(trader)),
        422,
        "certified",
    )
    is_problem(
        client.get("/measurements", params={"period": "07"}, headers=auth(trader)), 422, "period"
    )


def test_only_passed_motions_adopt_a_version_and_certify_its_measurement(
    client: TestClient, make_account: MakeAccount
) -> None:
    admin, council = world_2007(client, make_account)
    _, trader = make_account("trader")
    vid = draft(client, council)
    made = store(client, council, measurement_body(vid))
    mid = made.json()["id"]

    # three motions with one deadline: certify (too early, the version is still a draft),
    # adopt from 1 January 2008, certify again
    deadline_at = utcnow() + timedelta(seconds=2)
    deadline = deadline_at.isoformat()

    def file(kind: str, payload: dict[str, Any]) -> str:
        body = {"kind": kind, "title": kind, "payload": payload, "deadline": deadline}
        filed = client.post("/council/motions", json=body, headers=auth(council))
        assert filed.status_code == 201, filed.text
        path = f"/council/motions/{filed.json()['id']}"
        voted = client.post(f"{path}/ballots", json={"choice": "yes"}, headers=auth(council))
        assert voted.status_code == 201, voted.text
        return path

    early = file("certify_measurement", {"measurement_id": mid})
    adopt = file("adopt_metric_version", {"version_id": vid, "effective_from": "2008-01-01"})
    certify = file("certify_measurement", {"measurement_id": mid})
    time.sleep(max(0.0, (deadline_at - utcnow()).total_seconds()) + 0.05)

    def decide(path: str) -> dict[str, Any]:
        response = client.post(f"{path}/decide", headers=auth(admin))
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "passed"
        result: dict[str, Any] = response.json()["result"]
        return result

    refused = decide(early)
    assert refused["effect_status"] == "failed"
    assert "which is a draft; only a measurement of an adopted version" in refused["effect_detail"]
    still = client.get(f"/measurements/{mid}", headers=auth(trader)).json()
    assert still["certification"] is None

    adopt_motion = int(adopt.rsplit("/", 1)[1])
    assert decide(adopt)["effect_status"] == "applied"
    version = client.get(f"/metric-versions/{vid}", headers=auth(trader)).json()
    assert (version["status"], version["effective_from"], version["adopted_by_motion_id"]) == (
        "adopted",
        "2008-01-01",
        adopt_motion,
    )
    in_force = client.get(
        "/metric-versions/in-force", params={"on": "2008-01-01"}, headers=auth(trader)
    )
    assert in_force.json()["version_id"] == vid
    is_problem(
        client.get("/metric-versions/in-force", params={"on": "2007-12-31"}, headers=auth(trader)),
        404,
        "in force on 2007-12-31",
    )
    # drafting the adopted definition again returns it, unchanged
    again = client.post("/metric-versions", json=hdi_like(), headers=auth(council))
    assert (again.status_code, again.json()["status"]) == (200, "adopted")

    certify_motion = int(certify.rsplit("/", 1)[1])
    assert decide(certify)["effect_status"] == "applied"
    certified = client.get(f"/measurements/{mid}", headers=auth(trader)).json()
    assert certified["certification"]["motion_id"] == certify_motion
    assert certified["certification"]["certified_at"] is not None
    assert certified["value"] == pytest.approx(W)
    assert listed_ids(client, trader, certified="true") == [mid]


def test_a_retried_store_replays_the_first_measurement_and_stores_no_second(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, council = world_2007(client, make_account)
    _, trader = make_account("trader")
    vid = draft(client, council)
    body = measurement_body(vid)

    first = store(client, council, body, idem="measure-2007")
    again = store(client, council, body, idem="measure-2007")
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content  # the same bytes, the same id
    assert listed_ids(client, trader) == [first.json()["id"]]

    is_problem(
        store(client, council, measurement_body(vid, monte_carlo=10), idem="measure-2007"),
        422,
        "Idempotency-Key",
    )
    missing = client.post("/measurements", json=body, headers=auth(council))
    is_problem(missing, 400, "Idempotency-Key")
    assert listed_ids(client, trader) == [first.json()["id"]]

    # computing again on purpose takes a new key, and is a second measurement
    second = store(client, council, body, idem="measure-2007-again")
    assert second.status_code == 201, second.text
    assert listed_ids(client, trader) == [first.json()["id"], second.json()["id"]]


def test_measurements_are_read_a_page_at_a_time_by_id(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, council = world_2007(client, make_account)
    _, trader = make_account("trader")
    vid = draft(client, council)
    ids = [store(client, council, measurement_body(vid)).json()["id"] for _ in range(3)]
    assert ids == sorted(ids)

    page = client.get("/measurements", params={"limit": 2}, headers=auth(trader)).json()
    assert [m["id"] for m in page["measurements"]] == ids[:2]
    assert page["next_after_id"] == ids[1]
    rest = client.get(
        "/measurements", params={"limit": 2, "after_id": ids[1]}, headers=auth(trader)
    ).json()
    assert ([m["id"] for m in rest["measurements"]], rest["next_after_id"]) == ([ids[2]], None)
    assert listed_ids(client, trader, after_id=ids[2]) == []
    assert listed_ids(client, trader, period=2007, certified="false", after_id=ids[0]) == ids[1:]

    for params, field in [
        ({"after_id": -1}, "after_id"),
        ({"after_id": 2**31}, "after_id"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
    ]:
        is_problem(client.get("/measurements", params=params, headers=auth(trader)), 422, field)


def test_measurement_ids_in_paths_are_integers_so_preview_is_not_an_id(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, trader = make_account("trader")
    preview = client.get("/measurements/preview", headers=auth(trader))
    assert (preview.status_code, preview.headers["Allow"]) == (405, "POST"), preview.text
    for path in ("/measurements/abc", "/measurements/-1", "/measurements/1.5"):
        response = client.get(path, headers=auth(trader))
        assert response.status_code == 404, response.text  # no route: not an id
        assert response.headers["content-type"] == "application/problem+json"
    is_problem(client.get("/measurements/0", headers=auth(trader)), 422, "measurement_id")
    is_problem(client.get("/measurements/7", headers=auth(trader)), 404, "no measurement with id 7")


def test_the_measurement_routes_document_every_error_they_return(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    def errors(path: str, method: str) -> set[str]:
        return {c for c in paths[path][method]["responses"] if c.startswith("4")}

    # 400: no Idempotency-Key, or a body that is not JSON
    assert errors("/measurements", "post") == {"400", "401", "403", "404", "409", "422"}
    assert errors("/measurements/preview", "post") == {"400", "401", "403", "404", "409", "422"}
    assert errors("/measurements", "get") == {"401", "422"}
    assert errors("/measurements/{measurement_id}", "get") == {"401", "404", "422"}
    header = paths["/measurements"]["post"]["parameters"][0]
    assert (header["name"], header["in"], header["required"]) == ("Idempotency-Key", "header", True)
