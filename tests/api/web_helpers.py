"""Helpers for the web page tests: a browser-like client that signs in through the form, and
reading forms and text out of a page (the fixtures are in `tests.api.web_fixtures`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

from fastapi.testclient import TestClient

from api.app import create_app
from api.seed import SeedReport
from db.session import Database
from db.settings import Settings

_FIELD = re.compile(r'name="(?P<name>csrf|idem)" value="(?P<value>[^"]*)"')


@dataclass(frozen=True)
class Demo:
    """The seeded demo database and the keys the seed printed."""

    database: Database
    seed: SeedReport

    def key(self, name: str) -> str:
        """The demo account's API key."""
        return self.seed.key(name)


def browser(database: Database, base_url: str = "http://testserver") -> TestClient:
    """A client that keeps cookies, as a browser does (not entered: the caller does)."""
    app = create_app(Settings(database_url=database.url), database=database)
    return TestClient(app, base_url=base_url, follow_redirects=False)


def form_fields(html: str, action: str) -> dict[str, str]:
    """The hidden ``csrf`` and ``idem`` fields of the form posting to ``action``."""
    start = html.index(f'action="{action}"')
    end = html.index("</form>", start)
    return {m["name"]: m["value"] for m in _FIELD.finditer(html[start:end])}


def sign_in(client: TestClient, key: str) -> None:
    """Sign in through the form, as a person does."""
    page = client.get("/web/sign-in")
    csrf = form_fields(page.text, "/web/sign-in")["csrf"]
    done = client.post("/web/sign-in", data={"csrf": csrf, "key": key, "next": "/"})
    assert done.status_code == 303, done.text


def text_of(html: str) -> str:
    """The page's text without tags, whitespace collapsed (what a reader sees)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
