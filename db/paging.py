"""The one paging convention every list of the API follows.

A list is read in pages ordered by a stable integer key (usually the row id), ascending:

- the request says ``after_id`` (exclusive; 0 for the first page) and ``limit`` (at most
  `MAX_PAGE`);
- the response is an object holding the page's items under a plural name and
  ``next_after_id``: the key of the last item when the page is full, else null. To read on,
  send ``after_id = next_after_id``; null means there is nothing more.

So no request's work or memory grows with the size of the table: a page costs one index
range scan of at most `MAX_PAGE` rows.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_PAGE = 1000
"""Most rows one page returns."""

DEFAULT_PAGE = 100
"""Rows a page returns when the request gives no ``limit``."""


def next_after_id(keys: Sequence[int], limit: int) -> int | None:
    """The cursor of the next page: the last key when the page is full, else None.

    Args:
        keys: the page's keys, in order.
        limit: the page size asked for.
    """
    return keys[-1] if keys and len(keys) >= limit else None
