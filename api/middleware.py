"""The request envelope: an id, one access log line, control characters refused, no 5xx text.

`RequestEnvelope` is a pure ASGI middleware around the whole app (inside Starlette's
``ServerErrorMiddleware``, outside the routing), so it sees every request once:

1. **Request id.** A client's ``X-Request-ID`` is kept when it is 1–128 characters of
   ``[A-Za-z0-9._:-]``; otherwise a fresh 32-hex-digit id is made. Either way it is echoed
   in the response's ``X-Request-ID`` and put in the log line, so a user's report and the
   server's log meet.
2. **The URL.** A decoded path or query parameter holding a control character
   (`db.text.control_character`; NUL breaks PostgreSQL text comparisons) is a 422 problem
   naming the parameter, before any route runs; so is a query parameter the operation
   does not document (FastAPI would ignore it, so a typo such as ``?limt=5`` would
   silently give the default). The names each operation takes are read once from the
   OpenAPI document, the one clients read; a request without a query string costs nothing
   here. Request bodies are checked by `api.schemas.base.RequestModel`.
3. **Bodies.** A body (other than a CSV upload, which its route streams and caps itself)
   larger than `MAX_BODY_BYTES` is a 413, and a JSON body nested deeper than
   `MAX_JSON_DEPTH` a 400, before any route parses it (Python's JSON reader would recurse
   once per level; no schema here nests past a handful).
4. **Catch-all.** An exception no handler turned into a response becomes a 500 problem+json
   naming the request id, logged with its traceback; it is not re-raised, so the server
   keeps the client's keep-alive connection. (If the response had already started, the
   exception is logged and the response ends there.)
5. **Access log.** One line per request on the ``futarchy.access`` logger, as JSON:
   method, route template (``/markets/{market_id}/trades``, not the raw path), status,
   duration in ms, request id and the caller's account id (set by `api.deps` on
   ``request.state``). Never a key, a header or a body.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.text import control_character

access_log = logging.getLogger("futarchy.access")
error_log = logging.getLogger("futarchy.error")

REQUEST_ID_HEADER = "X-Request-ID"

MAX_BODY_BYTES = 4 * 1024 * 1024
"""Largest request body read (4 MiB: a batch of 10,000 observations is about 1.5 MiB)."""

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a JSON body may have."""

_CONVERTOR = re.compile(r":\w+}")
"""A path convertor in a route template (``{market_id:int}``), left out of log lines."""
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)

_STEP = np.zeros(256, dtype=np.int64)
_STEP[list(b"[{")] = 1
_STEP[list(b"]}")] = -1


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Does ``body`` open more than ``limit`` arrays and objects at once?

    Strings are removed; the depth is then the largest running sum of +1 per ``[`` or
    ``{`` and −1 per ``]`` or ``}`` (numpy, at C speed). Unclosed brackets count too:
    Python's JSON reader recurses into them before it finds the body is cut short."""
    code = np.frombuffer(_JSON_STRING.sub(b"", body), dtype=np.uint8)
    if code.size == 0:
        return False
    return bool(np.cumsum(_STEP[code]).max() > limit)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if _CLIENT_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


def _url_fault(scope: Scope, queries: QueryTable) -> str | None:
    """Why the request's path or query cannot be read safely, or None."""
    found = control_character(scope.get("path", ""))
    if found is not None:
        return f"the path holds the control character {found}; send printable text"
    raw = scope.get("query_string", b"")
    if not raw:
        return None
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8")
    for name, value in pairs:
        found = control_character(name) or control_character(value)
        if found is not None:
            return (
                f"the query parameter {name!r} holds the control character {found}; "
                "send printable text"
            )
    allowed = queries.names(scope)
    if allowed is None:
        return None  # no documented operation here: routing answers 404 or 405
    unknown = sorted({name for name, _ in pairs} - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed)) or "no query parameters"
        return f"unknown query parameter {', '.join(map(repr, unknown))}; this route takes {takes}"
    return None


class QueryTable:
    """The query parameter names of every documented operation, by method and path,
    compiled once from the app's OpenAPI document on first use."""

    def __init__(self, openapi: Callable[[], dict[str, Any]]) -> None:
        self._openapi = openapi
        self._table: list[tuple[re.Pattern[str], str, frozenset[str]]] | None = None

    def names(self, scope: Scope) -> frozenset[str] | None:
        """The names the operation at this method and path takes; None if there is none."""
        if self._table is None:
            table = []
            for path, item in self._openapi().get("paths", {}).items():
                regex = re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "$")
                for method, operation in item.items():
                    params = operation.get("parameters", ())
                    names = frozenset(p["name"] for p in params if p["in"] == "query")
                    table.append((regex, method.upper(), names))
            self._table = table
        method, path = scope.get("method", ""), scope.get("path", "")
        for regex, verb, names in self._table:
            if verb == method and regex.match(path):
                return names
        return None


def _may_nest(body: bytes) -> bool:
    """Could the body open more than `MAX_JSON_DEPTH` brackets at once? (Two C-speed counts
    spare an ordinary body the full scan.)"""
    return body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return ""


def _has_body(scope: Scope) -> bool:
    return scope.get("method") in {"POST", "PUT", "PATCH", "DELETE"}


def _is_csv(scope: Scope) -> bool:
    return _header(scope, b"content-type").lower().startswith("text/csv")


def _is_json(scope: Scope) -> bool:
    return "json" in _header(scope, b"content-type").lower()


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    """A ``receive`` that hands the app the body already read, then waits for disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _problem_bytes(status: int, title: str, detail: str, request_id: str) -> bytes:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": request_id,
    }
    return json.dumps(body).encode()


class RequestEnvelope:
    """Pure ASGI middleware; see the module docstring."""

    def __init__(self, app: ASGIApp, openapi: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.queries = QueryTable(openapi)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        response_started = False
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        async def send_problem(code: int, title: str, detail: str) -> None:
            body = _problem_bytes(code, title, detail, request_id)
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": code,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_id({"type": "http.response.body", "body": body})

        try:
            fault = _url_fault(scope, self.queries)
            if fault is not None:
                await send_problem(422, "Invalid input", fault)
                return
            if _has_body(scope) and not _is_csv(scope):
                body = await _read_body(receive, MAX_BODY_BYTES)
                if body is None:
                    await send_problem(
                        413,
                        "Content too large",
                        f"the body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB",
                    )
                    return
                if _is_json(scope) and _may_nest(body) and json_too_deep(body):
                    await send_problem(
                        400,
                        "Bad request",
                        f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels",
                    )
                    return
                receive = _replay(body)
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception(
                "unhandled error", extra={"request_id": request_id, "path": scope.get("path")}
            )
            if not response_started:
                await send_problem(
                    500,
                    "Internal server error",
                    f"the server failed on this request; nothing was changed. Report request "
                    f"id {request_id} to the operator",
                )
        finally:
            _log_access(scope, status, started, request_id)


def _log_access(scope: Scope, status: int, started: float, request_id: str) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    route: Any = scope.get("route")
    state = scope.get("state") or {}
    line = {
        "method": scope.get("method"),
        "route": _CONVERTOR.sub("}", getattr(route, "path", None) or "(unmatched)"),
        "status": status,
        "ms": round((time.perf_counter() - started) * 1000, 2),
        "request_id": request_id,
        "account_id": state.get("account_id"),
    }
    access_log.info(json.dumps(line))
