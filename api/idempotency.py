"""Idempotent money-moving POSTs: the ``Idempotency-Key`` header and replaying first responses.

Every route that moves money depends on `IdempotencyKey` (the header, required) and runs
its effect through `idempotent` (which is `run_once` in its own write transaction, see
`api.transactions`):

1. no header, an empty one or one longer than 255 characters → 400 (`BadRequest`);
2. `market.idempotency.find` looks the key up for the calling account: a stored response
   is replayed exactly, same status code and same body bytes, with
   ``Idempotent-Replayed: true``; a key stored for a *different* request (other method,
   path or body) → 422 (`IdempotencyKeyReused`);
3. otherwise the effect runs and its response is stored with `market.idempotency.record`
   in the SAME transaction, so the effect and its record commit together or not at all;
4. a request that began executing and was refused by the state it met (409 insufficient
   funds, a closed market, a price limit; 404 unknown market) has that refusal as its
   outcome, as Stripe does: its effect is rolled back and the problem response is stored
   under the key, so a retry with the same key replays the refusal, even after the cause
   was fixed (send a new key to try again). What never began (a 401, 403, a malformed
   body or header) is not stored, nor a domain 422 (`InvalidInputError`): it depends on
   the request alone, so a retry meets the same refusal anyway;
5. two concurrent requests with one key (possible on PostgreSQL, where writers run in
   parallel): the second one's INSERT meets the unique ``(account, key)`` constraint once
   the first commits; it rolls back its whole transaction (its effect too) and replays
   the first one's stored response; likewise when its effect was refused because the
   first one's effect came first (say the cash was spent) and the first one's record is
   there by then. On SQLite writers are serialised, so the second one
   simply finds the first one's record.

The request hash covers the method, the path (which holds the ids) and the body as the
validated schema renders it, so ``"12.5"`` and ``"12.500"`` are the same request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.problems import PROBLEM_JSON, BadRequest, domain_problem
from api.transactions import run_write
from db.errors import FutarchyError, InvalidInputError
from db.session import Database
from market.idempotency import MAX_KEY_LENGTH, StoredResponse, find, record, request_hash

REPLAY_HEADER = "Idempotent-Replayed"
"""Response header set to ``true`` on a replayed response."""

_HEADER_DESCRIPTION = (
    "Required (400 without it). A client-chosen unique string (at most 255 characters) per "
    "intended operation, e.g. a UUID. A "
    "retry with the same key and body returns the first response, without a second effect; "
    "the same key with a different body is refused (422)."
)


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """The key of a money-moving request and what its hash covers besides the body."""

    key: str
    method: str
    path: str


async def _idempotency_key(
    request: Request,
    key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description=_HEADER_DESCRIPTION),
    ] = None,
) -> IdempotentRequest:
    if key is None or not key.strip():
        raise BadRequest(
            "this request needs an 'Idempotency-Key' header, so that a retry is never done "
            "twice: a unique string of your choice (e.g. a UUID) that you reuse only to retry it"
        )
    if len(key) > MAX_KEY_LENGTH:
        raise BadRequest(
            f"the Idempotency-Key is {len(key)} characters long; at most {MAX_KEY_LENGTH} "
            "are accepted"
        )
    # the scope's path, not ``request.url.path``: building the URL object costs 3% of a trade
    return IdempotentRequest(key=key, method=request.method, path=request.scope["path"])


IdempotencyKey = Annotated[IdempotentRequest, Depends(_idempotency_key)]
"""The required ``Idempotency-Key`` header of a money-moving POST (400 when missing)."""


def _replay(stored: StoredResponse) -> Response:
    return Response(
        content=stored.body,
        status_code=stored.status_code,
        media_type=PROBLEM_JSON if stored.status_code >= 400 else "application/json",
        headers={REPLAY_HEADER: "true"},
    )


def run_once(
    session: Session,
    account_id: int,
    idem: IdempotentRequest,
    body: BaseModel | None,
    status_code: int,
    effect: Callable[[], BaseModel],
) -> Response:
    """Run ``effect`` at most once per ``(account, key)``; replay the first response after.

    Args:
        session: the request's write transaction (committed by the session dependency).
        account_id: the caller; keys are scoped to the account that sends them.
        idem: the key with the request's method and path.
        body: the validated request body (hashed as JSON), or None for a bodiless POST.
        status_code: the status of a first, successful response.
        effect: does the work (services only flush) and returns the response schema.

    Returns:
        The JSON response: the effect's, or the stored one on a retry.

    Raises:
        IdempotencyKeyReused: the key was used for a different request (422).
        sqlalchemy.exc.IntegrityError: a constraint the effect met, not the key's.
    """
    payload = None if body is None else body.model_dump(mode="json")
    hash_ = request_hash(idem.method, idem.path, payload)
    stored = find(session, account_id, idem.key, hash_)
    if stored is not None:
        return _replay(stored)
    try:
        text = effect().model_dump_json()
        record(session, account_id, idem.key, hash_, status_code, text)
    except IntegrityError as conflict:
        # A concurrent request with this key committed first (our INSERT met its key):
        # undo ours and replay theirs.
        return _replay_or_raise(session, account_id, idem, hash_, conflict)
    except InvalidInputError:
        raise  # a function of the request alone: a retry meets the same 422; store nothing
    except FutarchyError as exc:
        # The request began executing and was refused by the state it met: undo its
        # effect, then store the refusal as its outcome, so a retry replays it rather than
        # acting later.
        session.rollback()
        stored = find(session, account_id, idem.key, hash_)
        if stored is not None:  # a concurrent twin committed first (and maybe caused this)
            return _replay(stored)
        refusal = domain_problem(exc)
        text = bytes(refusal.body).decode()
        try:
            record(session, account_id, idem.key, hash_, refusal.status_code, text)
        except IntegrityError as conflict:
            return _replay_or_raise(session, account_id, idem, hash_, conflict)
        return refusal
    return Response(content=text, status_code=status_code, media_type="application/json")


def _replay_or_raise(
    session: Session,
    account_id: int,
    idem: IdempotentRequest,
    hash_: str,
    conflict: IntegrityError,
) -> Response:
    """After ``conflict`` on an INSERT: roll back and replay the response stored under the
    key, or raise ``conflict`` when none is (it was another constraint)."""
    session.rollback()
    stored = find(session, account_id, idem.key, hash_)
    if stored is None:
        raise conflict
    return _replay(stored)


async def idempotent(
    database: Database,
    account_id: int,
    idem: IdempotentRequest,
    body: BaseModel | None,
    status_code: int,
    effect: Callable[[Session], BaseModel],
) -> Response:
    """`run_once` in its own write transaction on one worker thread (`api.transactions`).

    ``effect(session)`` does the work with the transaction's session (services only flush)
    and returns the response schema. This is what the money-moving routes call.
    """
    return await run_write(
        database,
        lambda session: run_once(
            session, account_id, idem, body, status_code, lambda: effect(session)
        ),
    )
