"""Signing in to the web pages: an API key entered once, then a signed session cookie.

The browser never holds the key after the sign-in form is posted. The cookie
(`COOKIE`, HttpOnly, SameSite=Strict, Secure when the page was served over https) holds
a small signed document::

    payload = base64url(JSON {"n": nonce, "t": issued at, "a": account id, "k": key id})
    cookie  = payload "." base64url(HMAC-SHA256(secret, "session" ‖ payload ‖ key hash))

- ``a`` and ``k`` are absent before sign-in: a visitor gets an anonymous session so that
  the sign-in form has a CSRF token too;
- the MAC covers the SHA-256 of the API key the session was opened with (read from the
  database, never from the cookie), so a session dies with its key: revoking the key
  (``DELETE /accounts/{id}/keys/{key_id}``) signs every browser using it out at its next
  request, and forging a cookie needs both the server's secret and the key's hash;
- a session lasts `MAX_AGE_SECONDS` from sign-in;
- signing in or out starts a new nonce (no session fixation).

CSRF: every form that changes something carries ``csrf = HMAC(secret, "csrf" ‖ nonce)``,
checked in constant time (`check_csrf`); a cross-site page can read neither the cookie
(HttpOnly, and SameSite=Strict keeps it off cross-site requests anyway) nor the token.

The secret is ``Settings.session_secret`` when the settings carry one; otherwise each app
draws 32 random bytes when it is built, so sessions last as long as the process and work
with one worker (`make run`). With several workers, set ``SESSION_SECRET``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Caller
from db.identity import Account, ApiKey, Role, hash_key

COOKIE = "futarchy_session"
"""The session cookie's name."""

FLASH_COOKIE = "futarchy_flash"
"""A one-shot message for the next page (after a form's redirect), signed like the session."""

MAX_AGE_SECONDS = 12 * 3600
"""How long a session lasts after sign-in (12 hours)."""

MAX_COOKIE_CHARS = 1024
"""Longest cookie value read; anything longer is ignored (a session is ~150 characters)."""

MAX_KEY_CHARS = 255
"""Longest API key text looked up (real keys are 47 characters)."""


@dataclass(frozen=True, slots=True)
class WebSession:
    """The visitor's session: a nonce, and the caller once signed in."""

    nonce: str
    issued_at: int
    caller: Caller | None = None
    key_id: int | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def app_secret(request: Request) -> bytes:
    """The signing secret of the app serving ``request`` (see the module docstring)."""
    state = request.app.state
    secret: bytes | None = getattr(state, "web_secret", None)
    if secret is None:
        configured: Any = getattr(state.settings, "session_secret", None)
        if configured is not None and hasattr(configured, "get_secret_value"):
            configured = configured.get_secret_value()
        secret = (
            hashlib.sha256(str(configured).encode()).digest()
            if configured
            else secrets.token_bytes(32)
        )
        state.web_secret = secret
    return secret


def _mac(secret: bytes, payload: str, key_hash: str, purpose: str = "session") -> str:
    message = f"{purpose}|{payload}|{key_hash}".encode()
    return _b64(hmac.new(secret, message, hashlib.sha256).digest())


def _encode(
    secret: bytes, body: dict[str, Any], key_hash: str = "", purpose: str = "session"
) -> str:
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_mac(secret, payload, key_hash, purpose)}"


def _decode(value: str) -> tuple[str, str, dict[str, Any]] | None:
    """``(payload, mac, document)`` of a cookie value, or None if it is not one."""
    if not value or len(value) > MAX_COOKIE_CHARS or value.count(".") != 1:
        return None
    payload, mac = value.split(".")
    try:
        document = json.loads(_unb64(payload))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(document, dict):
        return None
    return payload, mac, document


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        return None
    return value


def _live_key(session: Session, key_id: int, account_id: int) -> tuple[str, Account] | None:
    """The hash of a live key of ``account_id`` with id ``key_id``, and its account."""
    row = session.execute(
        select(ApiKey.key_hash, Account)
        .join(Account, Account.id == ApiKey.account_id)
        .where(ApiKey.id == key_id, ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
    ).first()
    return None if row is None else (str(row[0]), row[1])


def read_session(request: Request, session: Session, now: float | None = None) -> WebSession | None:
    """The visitor's valid session, or None (no cookie, a forged or expired one, a revoked
    key). Looks the key up in ``session`` when the cookie names one."""
    decoded = _decode(request.cookies.get(COOKIE, ""))
    if decoded is None:
        return None
    payload, mac, document = decoded
    nonce, issued = document.get("n"), document.get("t")
    if not isinstance(nonce, str) or len(nonce) != 32 or _int(issued) is None:
        return None
    assert isinstance(issued, int)
    at = time.time() if now is None else now
    if not issued <= at + 60 or at - issued > MAX_AGE_SECONDS:
        return None
    secret = app_secret(request)
    account_id, key_id = _int(document.get("a")), _int(document.get("k"))
    if account_id is None or key_id is None:
        if "a" in document or "k" in document:
            return None
        ok = hmac.compare_digest(mac, _mac(secret, payload, ""))
        return WebSession(nonce, issued) if ok else None
    found = _live_key(session, key_id, account_id)
    if found is None:
        return None
    key_hash, account = found
    if not hmac.compare_digest(mac, _mac(secret, payload, key_hash)):
        return None
    caller = Caller(account_id=account.id, name=account.name, role=Role(account.role))
    request.state.account_id = account.id  # for the access log line (api.middleware)
    return WebSession(nonce, issued, caller, key_id)


def sign_in(session: Session, key: str) -> tuple[Caller, int, str] | None:
    """The caller, key id and key hash of a live API key, or None if it is unknown or
    revoked (or not a plausible key at all)."""
    key = key.strip()
    if not key or len(key) > MAX_KEY_CHARS or not key.isprintable():
        return None
    key_hash = hash_key(key)
    row = session.execute(
        select(ApiKey.id, Account)
        .join(Account, Account.id == ApiKey.account_id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    account: Account = row[1]
    return Caller(account.id, account.name, Role(account.role)), int(row[0]), key_hash


def _cookie_args(request: Request) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https",
        "path": "/",
    }


def new_anonymous(request: Request, response: Response) -> WebSession:
    """Start an anonymous session (for the sign-in form's CSRF token) on ``response``."""
    nonce, issued = secrets.token_hex(16), int(time.time())
    value = _encode(app_secret(request), {"n": nonce, "t": issued})
    response.set_cookie(COOKIE, value, max_age=MAX_AGE_SECONDS, **_cookie_args(request))
    return WebSession(nonce, issued)


def start(
    request: Request, response: Response, caller: Caller, key_id: int, key_hash: str
) -> WebSession:
    """Open a signed-in session on ``response`` (a fresh nonce: no session fixation)."""
    nonce, issued = secrets.token_hex(16), int(time.time())
    body = {"n": nonce, "t": issued, "a": caller.account_id, "k": key_id}
    value = _encode(app_secret(request), body, key_hash)
    response.set_cookie(COOKIE, value, max_age=MAX_AGE_SECONDS, **_cookie_args(request))
    return WebSession(nonce, issued, caller, key_id)


def end(request: Request, response: Response) -> None:
    """Sign out: the browser drops the session cookie."""
    response.delete_cookie(COOKIE, **_cookie_args(request))


def csrf_token(request: Request, web: WebSession) -> str:
    """The CSRF token of a session: ``HMAC(secret, "csrf" ‖ nonce)``, 43 characters."""
    digest = hmac.new(app_secret(request), ("csrf|" + web.nonce).encode(), hashlib.sha256)
    return _b64(digest.digest())


def check_csrf(request: Request, web: WebSession | None, token: str) -> bool:
    """Does the form's token belong to this session? (Constant time.)"""
    if web is None or not token or len(token) > 64:
        return False
    return hmac.compare_digest(token, csrf_token(request, web))


def set_flash(request: Request, response: Response, message: str) -> None:
    """A message the next page shows once (after a form's redirect)."""
    body = {"m": message[:300], "t": int(time.time())}
    value = _encode(app_secret(request), body, purpose="flash")
    response.set_cookie(FLASH_COOKIE, value, max_age=60, **_cookie_args(request))


def pop_flash(request: Request, response: Response) -> str | None:
    """The pending one-shot message, if a genuine one is there; it is cleared."""
    raw = request.cookies.get(FLASH_COOKIE)
    if raw is None:
        return None
    response.delete_cookie(FLASH_COOKIE, **_cookie_args(request))
    decoded = _decode(raw)
    if decoded is None:
        return None
    payload, mac, document = decoded
    if not hmac.compare_digest(mac, _mac(app_secret(request), payload, "", "flash")):
        return None
    message = document.get("m")
    return message if isinstance(message, str) else None
