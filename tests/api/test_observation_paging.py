"""Indicators and observations are read a page at a time (`db.paging`: ``after_id``,
``limit``, ``next_after_id``), the vintage views (``known_on``, ``first_release``) and the
filters (entity, period) included, as JSON or as CSV whose text cells no spreadsheet runs."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from tests.helpers import MakeAccount, auth
from welfare.vintage import Obs, as_known_on, first_releases

LISTING = "/indicators/lifeExp/observations"


def is_problem(response: Any, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert fragment in response.json()["detail"], response.json()["detail"]


def steward_and_reader(client: TestClient, make_account: MakeAccount) -> tuple[str, str]:
    """An admin who defined ``lifeExp`` (years), and a trader who reads."""
    _, admin = make_account("admin")
    _, trader = make_account("trader")
    made = client.post("/indicators", json={"key": "lifeExp", "unit": "years"}, headers=auth(admin))
    assert made.status_code == 201, made.text
    return admin, trader


def append(client: TestClient, admin: str, rows: list[tuple[Any, ...]]) -> list[int]:
    """Append ``(entity, period, value, release_date)`` rows in order; their ids."""
    body = [
        {"entity": e, "period": p, "value": v, "release_date": r, "source": "test"}
        for e, p, v, r in rows
    ]
    response = client.post(LISTING, json=body, headers=auth(admin))
    assert response.status_code == 201, response.text
    return [o["id"] for o in response.json()]


def every_page(client: TestClient, reader: str, limit: int, **params: Any) -> list[list[int]]:
    """The ids of each page, following ``next_after_id`` from 0 until it is null."""
    pages: list[list[int]] = []
    after = 0
    while True:
        response = client.get(
            LISTING, params={**params, "after_id": after, "limit": limit}, headers=auth(reader)
        )
        assert response.status_code == 200, response.text
        page = response.json()
        ids = [o["id"] for o in page["observations"]]
        assert ids == sorted(ids)
        assert all(i > after for i in ids)
        assert page["next_after_id"] == (ids[-1] if len(ids) == limit else None)
        pages.append(ids)
        if page["next_after_id"] is None:
            return pages
        after = page["next_after_id"]


def test_indicators_are_listed_a_page_at_a_time_by_id(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    keys = ["lifeExp", "gdpPercap", "pop"]
    ids = []
    for key in keys:
        made = client.post("/indicators", json={"key": key, "unit": "u"}, headers=auth(admin))
        ids.append(made.json()["id"])
    first = client.get("/indicators", params={"limit": 2}, headers=auth(admin)).json()
    assert [i["key"] for i in first["indicators"]] == ["lifeExp", "gdpPercap"]
    assert first["next_after_id"] == ids[1]
    rest = client.get(
        "/indicators", params={"limit": 2, "after_id": ids[1]}, headers=auth(admin)
    ).json()
    assert rest == {"indicators": [rest["indicators"][0]], "next_after_id": None}
    assert rest["indicators"][0]["key"] == "pop"
    for params, field in [({"limit": 0}, "limit"), ({"after_id": -1}, "after_id")]:
        is_problem(client.get("/indicators", params=params, headers=auth(admin)), 422, field)


# World 2007 is revised twice, the second revision appended BEFORE a release dated between
# the two; Chad 2007 is released twice on one day; World 2002 is revised in 2011.
SERIES = [
    ("World", 2007, 67.0, "2009-01-01"),  # 1
    ("World", 2002, 65.0, "2009-01-01"),  # 2
    ("Chad", 2007, 48.0, "2009-03-01"),  # 3
    ("World", 2007, 67.4, "2010-06-01"),  # 4: the newest release of World 2007
    ("World", 2007, 67.2, "2009-06-01"),  # 5: appended after 4, released before it
    ("Chad", 2007, 48.5, "2009-03-01"),  # 6: same day as 3, appended later
    ("World", 2002, 65.1, "2011-01-01"),  # 7
]


def test_every_release_is_paged_by_id_with_the_entity_and_period_filters(
    client: TestClient, make_account: MakeAccount
) -> None:
    admin, trader = steward_and_reader(client, make_account)
    ids = append(client, admin, SERIES)
    n = dict(enumerate(ids, start=1))  # row number in SERIES → id

    assert every_page(client, trader, 3) == [[n[1], n[2], n[3]], [n[4], n[5], n[6]], [n[7]]]
    assert every_page(client, trader, 7) == [ids, []]  # a full last page: one empty page more
    assert every_page(client, trader, 2, entity="World") == [[n[1], n[2]], [n[4], n[5]], [n[7]]]
    assert every_page(client, trader, 2, period=2007) == [[n[1], n[3]], [n[4], n[5]], [n[6]]]
    assert every_page(client, trader, 5, entity="Chad", period="2007") == [[n[3], n[6]]]
    assert every_page(client, trader, 5, entity="Mali") == [[]]


def test_the_vintage_views_are_paged_by_id(client: TestClient, make_account: MakeAccount) -> None:
    admin, trader = steward_and_reader(client, make_account)
    n = dict(enumerate(append(client, admin, SERIES), start=1))

    # known on 1 January 2010: World 2007 as revised on 1 June 2009 (row 5), World 2002 as
    # first released (2), Chad 2007 as re-released the same day (6: the later append wins)
    assert every_page(client, trader, 2, known_on="2010-01-01") == [[n[2], n[5]], [n[6]]]
    # known on 31 December 2010: World 2007 as revised on 1 June 2010 (row 4)
    assert every_page(client, trader, 2, known_on="2010-12-31") == [[n[2], n[4]], [n[6]]]
    assert every_page(client, trader, 9, known_on="2011-01-01") == [[n[4], n[6], n[7]]]
    assert every_page(client, trader, 9, known_on="2009-02-01") == [[n[1], n[2]]]
    assert every_page(client, trader, 9, known_on="2008-12-31") == [[]]
    assert every_page(client, trader, 1, known_on="2010-12-31", entity="World") == [
        [n[2]],
        [n[4]],
        [],
    ]
    assert every_page(client, trader, 9, known_on="2010-12-31", period=2007) == [[n[4], n[6]]]
    # first releases: the earliest release date, the first append on a tie (3, not 6)
    assert every_page(client, trader, 2, first_release="true") == [[n[1], n[2]], [n[3]]]
    assert every_page(client, trader, 9, first_release="true", entity="Chad") == [[n[3]]]

    is_problem(
        client.get(LISTING, params={"after_id": 2**31}, headers=auth(trader)), 422, "after_id"
    )
    is_problem(client.get(LISTING, params={"limit": 1001}, headers=auth(trader)), 422, "limit")


def test_the_sql_vintage_views_choose_what_the_pure_vintage_rules_choose(
    client: TestClient, make_account: MakeAccount
) -> None:
    """200 releases of 12 series over 8 release dates, appended in random order: every
    page of every view, read 7 at a time, is what `welfare.vintage` picks."""
    admin, trader = steward_and_reader(client, make_account)
    rng = np.random.default_rng(2024)
    rows = [
        (
            str(rng.choice(["World", "Chad", "Peru"])),
            int(rng.choice([2000, 2001, 2002, 2003])),
            float(rng.integers(40, 80)),
            f"20{10 + int(rng.integers(0, 8))}-06-01",
        )
        for _ in range(200)
    ]
    ids = append(client, admin, rows)
    pure = [
        Obs("lifeExp", e, f"{p:04d}", v, None, _date(r), seq=i)
        for i, (e, p, v, r) in zip(ids, rows, strict=True)
    ]

    def chosen(picked: dict[Any, Obs], entity: str | None = None) -> list[int]:
        return sorted(o.seq for o in picked.values() if entity in (None, o.entity))

    def read(**params: Any) -> list[int]:
        return [i for page in every_page(client, trader, 7, **params) for i in page]

    for day in ["2009-12-31", "2012-06-01", "2014-01-01", "2030-01-01"]:
        expected = chosen(as_known_on(pure, _date(day)))
        assert read(known_on=day) == expected, day
        assert read(known_on=day, entity="Peru") == chosen(as_known_on(pure, _date(day)), "Peru")
    assert read(first_release="true") == chosen(first_releases(pure))
    assert read(first_release="true", entity="Chad") == chosen(first_releases(pure), "Chad")
    assert read() == ids


def _date(text: str) -> date:
    return date.fromisoformat(text)


def test_a_page_as_csv_is_the_json_page_with_formula_cells_neutralised(
    client: TestClient, make_account: MakeAccount
) -> None:
    admin, trader = steward_and_reader(client, make_account)
    body = [
        {
            "entity": "=cmd|' /C calc'!A0",
            "period": 2007,
            "value": -2.5,
            "release_date": "2009-01-01",
            "source": "@SUM(1)",
        },
        {
            "entity": "+1+1",
            "period": "2007-Q3",
            "value": 67.25,
            "std_error": 0.5,
            "release_date": "2009-02-01",
            "source": "-2+3",
        },
        {"entity": "World", "period": 2008, "value": 1e15, "release_date": "2009-03-01"},
    ]
    stored = client.post(LISTING, json=body, headers=auth(admin))
    assert stored.status_code == 201, stored.text
    # stored inertly, exactly as sent
    assert [(o["entity"], o["source"]) for o in stored.json()] == [
        ("=cmd|' /C calc'!A0", "@SUM(1)"),
        ("+1+1", "-2+3"),
        ("World", ""),
    ]

    params = {"limit": 2}
    as_json = client.get(LISTING, params=params, headers=auth(trader)).json()
    as_csv = client.get(LISTING, params={**params, "format": "csv"}, headers=auth(trader))
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["Next-After-Id"] == str(as_json["next_after_id"])
    first, second = as_json["observations"]
    assert as_csv.text == (
        "id,indicator,entity,period,value,std_error,release_date,source,created_at\r\n"
        f"{first['id']},lifeExp,'=cmd|' /C calc'!A0,2007,-2.5,,2009-01-01,'@SUM(1),"
        f"{_iso(first['created_at'])}\r\n"
        f"{second['id']},lifeExp,'+1+1,2007-Q3,67.25,0.5,2009-02-01,'-2+3,"
        f"{_iso(second['created_at'])}\r\n"
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [float(r["value"]) for r in rows] == [-2.5, 67.25]  # numbers stay numbers

    last = client.get(
        LISTING,
        params={"format": "csv", "after_id": as_json["next_after_id"]},
        headers=auth(trader),
    )
    assert "Next-After-Id" not in last.headers
    assert [r["value"] for r in csv.DictReader(io.StringIO(last.text))] == ["1000000000000000.0"]

    is_problem(client.get(LISTING, params={"format": "xml"}, headers=auth(trader)), 422, "format")
    # a key in any alphabet: the CSV's file name falls back to plain ASCII
    made = client.post("/indicators", json={"key": "ключ", "unit": "u"}, headers=auth(admin))
    assert made.status_code == 201, made.text
    cyrillic = client.get(
        "/indicators/ключ/observations", params={"format": "csv"}, headers=auth(trader)
    )
    assert cyrillic.status_code == 200, cyrillic.text
    assert cyrillic.headers["Content-Disposition"] == 'attachment; filename="observations.csv"'
    assert as_csv.headers["Content-Disposition"] == (
        'attachment; filename="lifeExp-observations.csv"'
    )
    is_problem(
        client.get("/indicators/gni/observations", params={"format": "csv"}, headers=auth(trader)),
        404,
        "'gni'",
    )


def _iso(created_at: str) -> str:
    """The JSON ``created_at`` as Python's ``isoformat`` writes it in the CSV."""
    return datetime.fromisoformat(created_at.replace("Z", "+00:00")).isoformat()


def test_the_listing_documents_json_and_csv_and_every_error(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"][LISTING.replace("lifeExp", "{key}")]
    listing = operation["get"]
    assert set(listing["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert "Next-After-Id" in listing["responses"]["200"]["headers"]
    assert {c for c in listing["responses"] if c != "200"} == {"401", "404", "422"}
    names = {p["name"] for p in listing["parameters"]}
    assert {"after_id", "limit", "format", "known_on", "first_release"} <= names
