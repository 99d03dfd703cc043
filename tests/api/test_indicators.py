"""Indicators and observations over HTTP: the data steward (an admin) defines indicators and
appends observations as JSON or CSV, all or none; anyone reads them as known on a day;
every refusal is problem+json and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import MakeAccount, auth
from welfare import observation_service

CSV = "text/csv"


def is_problem(response: Any, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert fragment in response.json()["detail"], response.json()["detail"]


def create_indicator(client: TestClient, key: str, unit: str, admin: str) -> dict[str, Any]:
    response = client.post(
        "/indicators", json={"key": key, "unit": unit, "description": key}, headers=auth(admin)
    )
    assert response.status_code == 201, response.text
    indicator: dict[str, Any] = response.json()
    return indicator


def observation(value: float, released: str, period: int | str = 2007, **extra: Any) -> Any:
    return {"entity": "World", "period": period, "value": value, "release_date": released, **extra}


def values(client: TestClient, key: str, reader: str, **params: Any) -> list[tuple[Any, ...]]:
    """``(period, value, release_date)`` of the first page of observations, by id."""
    response = client.get(f"/indicators/{key}/observations", params=params, headers=auth(reader))
    assert response.status_code == 200, response.text
    return [(o["period"], o["value"], o["release_date"]) for o in response.json()["observations"]]


def post_csv(client: TestClient, admin: str, text: str | bytes, media: str = CSV) -> Any:
    body = text.encode() if isinstance(text, str) else text
    return client.post(
        "/indicators/observations.csv",
        content=body,
        headers={**auth(admin), "Content-Type": media},
    )


def test_the_data_steward_defines_indicators_and_anyone_reads_them(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    _, trader = make_account("trader")
    created = create_indicator(client, "lifeExp", "years", admin)
    assert (created["key"], created["unit"]) == ("lifeExp", "years")
    create_indicator(client, "gdpPercap", "USD per person", admin)

    listed = client.get("/indicators", headers=auth(trader)).json()
    assert [(i["key"], i["unit"]) for i in listed["indicators"]] == [
        ("lifeExp", "years"),
        ("gdpPercap", "USD per person"),
    ]  # by id, the order of creation
    assert listed["next_after_id"] is None
    assert client.get("/indicators/lifeExp", headers=auth(trader)).json()["unit"] == "years"

    is_problem(
        client.post("/indicators", json={"key": "pop", "unit": "persons"}, headers=auth(trader)),
        403,
        "needs the admin role",
    )
    _, council = make_account("council")
    is_problem(
        client.post("/indicators", json={"key": "pop", "unit": "persons"}, headers=auth(council)),
        403,
        "needs the admin role",
    )
    is_problem(
        client.post("/indicators", json={"key": "lifeExp", "unit": "days"}, headers=auth(admin)),
        409,
        "key 'lifeExp' exists already",
    )
    is_problem(
        client.post("/indicators", json={"key": "1st", "unit": "x"}, headers=auth(admin)),
        422,
        "must start with a letter",
    )
    is_problem(
        client.post(
            "/indicators", json={"key": "pop", "unit": "p", "colour": "red"}, headers=auth(admin)
        ),
        422,
        "colour",
    )
    is_problem(client.get("/indicators/gni", headers=auth(trader)), 404, "no indicator with key")
    is_problem(client.get("/indicators"), 401, "API key")
    assert len(client.get("/indicators", headers=auth(trader)).json()["indicators"]) == 2
    assert client.get("/indicators/lifeExp", headers=auth(trader)).json() == created


def test_as_known_on_gives_the_older_release_before_the_revision_and_the_revision_after(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    _, trader = make_account("trader")
    create_indicator(client, "lifeExp", "years", admin)
    # 67.0 years first published on 1 January 2009, revised to 67.4 on 1 June 2010
    appended = client.post(
        "/indicators/lifeExp/observations",
        json=[
            observation(67.0, "2009-01-01", std_error=0.3, source="first estimate"),
            observation(65.0, "2009-01-01", period=2002),
            observation(67.4, "2010-06-01", source="revision"),
        ],
        headers=auth(admin),
    )
    assert appended.status_code == 201, appended.text
    stored = appended.json()
    assert [(o["indicator"], o["period"], o["value"]) for o in stored] == [
        ("lifeExp", "2007", 67.0),
        ("lifeExp", "2002", 65.0),
        ("lifeExp", "2007", 67.4),
    ]
    assert stored[0]["std_error"] == 0.3
    assert stored[0]["id"] < stored[1]["id"] < stored[2]["id"]

    assert values(client, "lifeExp", trader) == [
        ("2007", 67.0, "2009-01-01"),
        ("2002", 65.0, "2009-01-01"),
        ("2007", 67.4, "2010-06-01"),
    ]  # by id, the order of appending
    assert values(client, "lifeExp", trader, period=2007, known_on="2010-05-31") == [
        ("2007", 67.0, "2009-01-01")
    ]
    assert values(client, "lifeExp", trader, period=2007, known_on="2010-06-01") == [
        ("2007", 67.4, "2010-06-01")
    ]
    assert values(client, "lifeExp", trader, known_on="2008-12-31") == []
    assert values(client, "lifeExp", trader, first_release="true") == [
        ("2007", 67.0, "2009-01-01"),
        ("2002", 65.0, "2009-01-01"),
    ]
    assert values(client, "lifeExp", trader, entity="Chad") == []

    listing = "/indicators/lifeExp/observations"
    is_problem(
        client.get(
            listing,
            params={"known_on": "2010-01-01", "first_release": "true"},
            headers=auth(trader),
        ),
        422,
        "not both",
    )
    is_problem(
        client.get(listing, params={"known_on": "1262304000"}, headers=auth(trader)),
        422,
        "YYYY-MM-DD",
    )
    is_problem(
        client.get(listing, params={"period": "2007-13"}, headers=auth(trader)), 422, "a month"
    )
    is_problem(client.get("/indicators/gni/observations", headers=auth(trader)), 404, "'gni'")


def test_a_json_batch_is_appended_all_or_none(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    _, trader = make_account("trader")
    create_indicator(client, "lifeExp", "years", admin)
    path = "/indicators/lifeExp/observations"

    bad_second = [observation(67.0, "2009-01-01"), observation(66.0, "2009-01-01", "2007-13")]
    is_problem(
        client.post(path, json=bad_second, headers=auth(admin)), 422, "observation 2: period"
    )
    negative_se = [observation(67.0, "2009-01-01", std_error=-1.0)]
    is_problem(
        client.post(path, json=negative_se, headers=auth(admin)),
        422,
        "0.std_error: Input should be greater than or equal to 0",
    )
    as_text = [observation("67", "2009-01-01")]  # type: ignore[arg-type]
    is_problem(client.post(path, json=as_text, headers=auth(admin)), 422, "value")
    timestamp = [observation(67.0, 1230768000)]  # type: ignore[arg-type]
    is_problem(client.post(path, json=timestamp, headers=auth(admin)), 422, "YYYY-MM-DD")
    is_problem(client.post(path, json=[], headers=auth(admin)), 422, "at least 1")
    is_problem(
        client.post(path, json=[observation(67.0, "2009-01-01")], headers=auth(trader)),
        403,
        "admin role",
    )
    is_problem(
        client.post(
            "/indicators/gni/observations",
            json=[observation(67.0, "2009-01-01")],
            headers=auth(admin),
        ),
        404,
        "no indicator with key 'gni'",
    )
    assert values(client, "lifeExp", trader) == []


def test_a_csv_with_a_bad_line_3_imports_nothing_and_a_good_one_imports_every_line(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    _, trader = make_account("trader")
    create_indicator(client, "lifeExp", "years", admin)
    create_indicator(client, "gdpPercap", "USD per person", admin)
    header = "indicator,entity,period,value,release_date,std_error,source\n"
    good_line = "lifeExp,World,2007,67.0,2009-01-01,0.3,gapminder\n"

    bad = header + good_line + "gdpPercap,World,2007,abc,2009-01-01,,gapminder\n"
    is_problem(post_csv(client, admin, bad), 422, "line 3: value 'abc' is not a number")
    assert values(client, "lifeExp", trader) == []

    two_bad = header + "lifeExp,World,2007,1,2009-02-30,,\n" + "gni,World,2007,1,2009-01-01,,\n"
    response = post_csv(client, admin, two_bad)
    is_problem(response, 422, "line 2: release_date '2009-02-30' is not a date")
    assert "line 3: no indicator with key 'gni'" in response.json()["detail"]
    is_problem(post_csv(client, admin, "entity,period\nWorld,2007\n"), 422, "missing: indicator")
    is_problem(post_csv(client, admin, header), 422, "no observations")
    is_problem(post_csv(client, admin, ""), 422, "the CSV body is empty")
    is_problem(post_csv(client, admin, b"\xff\xfe" + header.encode()), 422, "not UTF-8")
    is_problem(post_csv(client, admin, good_line, media="application/json"), 415, "text/csv")
    is_problem(post_csv(client, admin, good_line, media="text/csv; charset=latin-1"), 415, "UTF-8")
    too_big = header + good_line * (10 * 1024 * 1024 // len(good_line) + 1)
    is_problem(post_csv(client, admin, too_big), 413, "larger than 10 MiB")
    is_problem(post_csv(client, trader, header + good_line), 403, "admin role")
    assert values(client, "lifeExp", trader) == []
    assert values(client, "gdpPercap", trader) == []

    good = (
        "period,entity,indicator,value,release_date\n"  # any column order, optional ones left out
        "2007,World,lifeExp,67.0,2009-01-01\n"
        "2002,World,lifeExp,65.0,2009-01-01\n"
        "2007,World,gdpPercap,9000,2009-01-01\n"
    )
    imported = post_csv(client, admin, good, media="text/csv; charset=utf-8")
    assert imported.status_code == 201, imported.text
    assert imported.json() == {"imported": 3, "by_indicator": {"gdpPercap": 1, "lifeExp": 2}}
    assert values(client, "lifeExp", trader) == [
        ("2007", 67.0, "2009-01-01"),
        ("2002", 65.0, "2009-01-01"),
    ]
    assert values(client, "gdpPercap", trader) == [("2007", 9000.0, "2009-01-01")]


def test_the_welfare_routes_document_their_errors_and_the_csv_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operations = [
        (method, path, op)
        for path, item in spec["paths"].items()
        if path.startswith(("/indicators", "/metric-versions", "/measurements"))
        for method, op in item.items()
    ]
    assert len(operations) == 15
    for method, path, op in operations:
        errors = {code for code in op["responses"] if code.startswith("4")}
        assert "401" in errors, (method, path)
        if method == "post":
            assert {"403", "422"} <= errors, (method, path)
        for code in errors:
            assert "application/problem+json" in op["responses"][code]["content"], (path, code)
        assert op["operationId"], (method, path)
    csv_import = spec["paths"]["/indicators/observations.csv"]["post"]
    assert "text/csv" in csv_import["requestBody"]["content"]
    assert {"413", "415"} <= set(csv_import["responses"])


HEADER = "indicator,entity,period,value,release_date,std_error,source\n"


def test_a_control_character_in_any_csv_cell_is_refused_naming_its_line(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    _, trader = make_account("trader")
    create_indicator(client, "lifeExp", "years", admin)
    good = "lifeExp,World,2007,67.0,2009-01-01,0.3,gapminder\n"

    for line, message in [
        (
            "lifeExp,Wor\x00ld,2007,67.0,2009-01-01,,\n",
            "the entity cell holds the control character U+0000",
        ),
        (
            "lifeExp,World,2007,67.0,2009-01-01,,UN\x1bWPP\n",
            "the source cell holds the control character U+001B",
        ),
        (
            "lifeExp,World,2007,67.0,2009-01-01,,\tUN\n",
            "the source cell holds the control character U+0009",
        ),
        (
            'lifeExp,"World\n2",2007,67.0,2009-01-01,,\n',
            "the entity cell holds the control character U+000A",
        ),
        (
            "life\x7fExp,World,2007,67.0,2009-01-01,,\n",
            "the indicator cell holds the control character U+007F",
        ),
        (
            "lifeExp,World,2007,67.0\x85,2009-01-01,,\n",
            "the value cell holds the control character U+0085",
        ),
    ]:
        response = post_csv(client, admin, HEADER + good + line)
        is_problem(response, 422, f"line 3: {message}")
    is_problem(
        post_csv(client, admin, HEADER.replace("source", "sou\x00rce") + good), 422, "U+0000"
    )
    assert values(client, "lifeExp", trader) == []


def test_formula_cells_are_stored_inertly_exactly_as_sent(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    _, trader = make_account("trader")
    create_indicator(client, "lifeExp", "years", admin)
    formulas = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1)"]
    lines = "".join(
        f'lifeExp,"{f}",2007,{n},2009-01-01,,"{f}"\n' for n, f in enumerate(formulas, start=60)
    )
    imported = post_csv(client, admin, HEADER + lines)
    assert imported.status_code == 201, imported.text
    listed = client.get("/indicators/lifeExp/observations", headers=auth(trader)).json()
    assert [(o["entity"], o["source"], o["value"]) for o in listed["observations"]] == [
        ("=cmd|' /C calc'!A0", "=cmd|' /C calc'!A0", 60.0),
        ("+1+1", "+1+1", 61.0),
        ("-2+3", "-2+3", 62.0),
        ("@SUM(1)", "@SUM(1)", 63.0),
    ]


def test_values_are_finite_and_at_most_1e15_in_json_and_csv(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    _, trader = make_account("trader")
    create_indicator(client, "gdp", "USD", admin)
    path = "/indicators/gdp/observations"

    def post_json(text: str) -> Any:
        return client.post(
            path, content=text, headers={**auth(admin), "Content-Type": "application/json"}
        )

    row = '{{"entity": "World", "period": 2007, "release_date": "2009-01-01", {}}}'
    for fields, message in [
        ('"value": NaN', "0.value: Input should be a finite number"),
        ('"value": Infinity', "0.value: Input should be a finite number"),
        ('"value": -Infinity', "0.value: Input should be a finite number"),
        ('"value": 1e400', "0.value: Input should be a finite number"),
        ('"value": 1.000001e15', "0.value: Input should be less than or equal to 1000000000000000"),
        ('"value": -2e15', "0.value: Input should be greater than or equal to -1000000000000000"),
        ('"value": 1, "std_error": NaN', "0.std_error: Input should be a finite number"),
        ('"value": 1, "std_error": 2e15', "0.std_error: Input should be less than or equal to"),
    ]:
        is_problem(post_json("[" + row.format(fields) + "]"), 422, message)
    both = post_json("[" + row.format('"value": 1e16, "std_error": -1') + "]")
    is_problem(both, 422, "0.value")
    assert "0.std_error" in both.json()["detail"]  # every problem at once

    edges = post_json(
        "["
        + row.format('"value": 1e15, "std_error": 1e15')
        + ","
        + row.format('"value": -1e15, "std_error": 0')
        + "]"
    )
    assert edges.status_code == 201, edges.text
    assert [o["value"] for o in edges.json()] == [1e15, -1e15]

    for cells, message in [
        ("1e16,", "line 2: value 1e+16 must lie between -1e15 and 1e15"),
        ("-1.5e15,", "line 2: value -1500000000000000.0 must lie between -1e15 and 1e15"),
        ("nan,", "line 2: value 'nan' is not a number"),
        ("inf,", "line 2: value 'inf' is not a number"),
        ("1e999,", "line 2: value inf is not finite; send a finite number"),
        ("1_000,", "line 2: value '1_000' is not a number"),
        ("1,-0.5", "line 2: std_error -0.5 must be finite and ≥ 0"),
        ("1,2e15", "line 2: std_error 2000000000000000.0 must be finite and ≥ 0 (at most 1e15)"),
        ("1,NaN", "line 2: std_error 'NaN' is not a number"),
    ]:
        header = "indicator,entity,period,release_date,value,std_error\n"
        csv_text = f"{header}gdp,World,2007,2009-01-01,{cells}\n"
        is_problem(post_csv(client, admin, csv_text), 422, message)
    listed = client.get(path, headers=auth(trader)).json()["observations"]
    assert len(listed) == 2


def test_a_bad_csv_line_lists_every_problem_it_has(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    create_indicator(client, "lifeExp", "years", admin)
    line = "gni,,2007-13,abc,2009-02-30,-1,\n"
    is_problem(
        post_csv(client, admin, HEADER + line),
        422,
        "line 2: no indicator with key 'gni', entity must be 1 to 100 characters, period "
        "'2007-13' must be a year (2007), a quarter (2007-Q3) or a month (2007-09), value "
        "'abc' is not a number, release_date '2009-02-30' is not a date (YYYY-MM-DD) and "
        "std_error -1.0 must be finite and ≥ 0 (at most 1e15)",
    )


def test_csv_files_that_break_the_parser_or_repeat_a_column_are_refused_not_crashed(
    client: TestClient, make_account: MakeAccount
) -> None:
    _, admin = make_account("admin")
    _, trader = make_account("trader")
    create_indicator(client, "lifeExp", "years", admin)
    good = "lifeExp,World,2007,67.0,2009-01-01,,\n"
    huge = f'lifeExp,"{"x" * 200_000}",2007,1,2009-01-01,,\n'
    is_problem(
        post_csv(client, admin, HEADER + good + huge + good),
        422,
        "line 3: field larger than field limit (131072); the rest of the file was not read",
    )
    long_key = "k" * 5_000 + ",World,2007,1,2009-01-01,,\n"
    response = post_csv(client, admin, HEADER + long_key)
    is_problem(response, 422, "line 2: no indicator with key 'kkkkkkkkkk")
    assert len(response.json()["detail"]) < 200  # the cell is cut in the message
    is_problem(
        post_csv(client, admin, "indicator,entity,period,value,value,release_date\n"),
        422,
        "the CSV header names value more than once",
    )
    bad_utf8 = (HEADER + good).encode() + b"lifeExp,W\xc3\x28rld,2007,1,2009-01-01,,\n"
    offset = len((HEADER + good).encode()) + len(b"lifeExp,W")
    is_problem(post_csv(client, admin, bad_utf8), 422, f"bad byte at offset {offset}")
    truncated = (HEADER + good).encode() + b"\xe2\x82"
    is_problem(post_csv(client, admin, truncated), 422, "bad byte at offset")
    is_problem(post_csv(client, admin, " \r\n \n"), 422, "the CSV body is empty")
    assert values(client, "lifeExp", trader) == []

    crlf_bom = "\ufeff" + (HEADER + good + "\n" + good.replace("2007", "2002")).replace(
        "\n", "\r\n"
    )
    imported = post_csv(client, admin, crlf_bom)
    assert imported.json() == {"imported": 2, "by_indicator": {"lifeExp": 2}}, imported.text


def test_an_import_inserted_in_batches_is_still_all_or_none(
    client: TestClient, make_account: MakeAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, admin = make_account("admin")
    _, trader = make_account("trader")
    create_indicator(client, "lifeExp", "years", admin)
    monkeypatch.setattr(observation_service, "CSV_BATCH", 2)
    lines = [
        f"lifeExp,World,{year},{60 + n},2009-01-01,,\n" for n, year in enumerate(range(2000, 2005))
    ]

    # lines 2–6 are good and two batches are inserted before line 7 fails: nothing stays
    bad = HEADER + "".join(lines) + "lifeExp,World,2006,x,2009-01-01,,\n"
    is_problem(post_csv(client, admin, bad), 422, "line 7: value 'x' is not a number")
    assert values(client, "lifeExp", trader) == []

    imported = post_csv(client, admin, HEADER + "".join(lines))
    assert imported.json() == {"imported": 5, "by_indicator": {"lifeExp": 5}}
    assert [v for _, v, _ in values(client, "lifeExp", trader)] == [60.0, 61.0, 62.0, 63.0, 64.0]
