"""Who is calling: an API key's account, remembered briefly by each worker.

Every request names an API key (`Authorization: Bearer fut_…`). Looking it up is a read
transaction on a worker thread, about a tenth of a trade's server time. The account and
role behind a key never change once it is issued, so each worker keeps the callers of the
keys it has met for ``Settings.auth_cache_seconds`` (default 30 s; 0 turns the cache off).

Revocation (``DELETE /accounts/{id}/keys/{key_id}``) and this cache:

- the worker that revoked a key forgets it once the revocation has committed
  (`CallerCache.forget`), so its next request with that key is refused (401). A lookup
  that was already running when the key was forgotten does not put it back: `forget`
  advances the cache's epoch and `put` drops an entry whose lookup began in an older one;
- every other worker refuses the key at most ``auth_cache_seconds`` after the revocation
  committed: it keeps an entry only that long after its own lookup, which happened before.

Only keys that were found are kept (an unknown key is looked up every time), by their
SHA-256, never in plaintext; at most `MAX_ENTRIES`, the oldest dropped first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from db.identity import Role

MAX_ENTRIES = 10_000
"""Most keys one worker remembers."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated account behind a request."""

    account_id: int
    name: str
    role: Role


class CallerCache:
    """Callers by key hash, each kept for ``ttl_seconds`` after it was looked up.

    Args:
        ttl_seconds: how long an entry is trusted; 0 disables the cache.
        max_entries: capacity; the oldest entry goes first.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Caller]] = OrderedDict()
        self._lock = threading.Lock()
        self._epoch = 0

    @property
    def epoch(self) -> int:
        """How many keys were forgotten so far; read it before a lookup, pass it to `put`."""
        return self._epoch

    def get(self, key_hash: str) -> Caller | None:
        """The remembered caller, or None if unknown or expired."""
        if self._ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key_hash)
            if entry is None:
                return None
            expires, caller = entry
            if self._clock() >= expires:
                del self._entries[key_hash]
                return None
            return caller

    def put(self, key_hash: str, caller: Caller, epoch: int | None = None) -> None:
        """Remember a caller that was just looked up.

        Args:
            key_hash: the key's SHA-256 hex digest.
            caller: what the lookup found.
            epoch: `epoch` read before the lookup began; if a key was forgotten since, the
                lookup may have read a key revoked meanwhile, so nothing is kept.
        """
        if self._ttl <= 0:
            return
        with self._lock:
            if epoch is not None and epoch != self._epoch:
                return
            self._entries[key_hash] = (self._clock() + self._ttl, caller)
            self._entries.move_to_end(key_hash)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, key_hash: str) -> None:
        """Drop a key (for the worker that revoked it, after the revocation committed)."""
        with self._lock:
            self._epoch += 1
            self._entries.pop(key_hash, None)

    def __len__(self) -> int:
        return len(self._entries)
