"""Typed path and query parameters shared by the trading routes.

Ids are INTEGER columns: an id beyond ``2**31 − 1`` could never exist and would overflow
the database (PostgreSQL refuses the comparison, SQLite's driver beyond ``2**63 − 1``), so
it is refused with 422 before any query runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from db.paging import MAX_PAGE

MAX_ID = 2**31 - 1
"""Largest id an INTEGER primary key holds."""

AccountId = Annotated[int, Path(ge=1, le=MAX_ID, description="An account id.")]
ProposalId = Annotated[int, Path(ge=1, le=MAX_ID, description="A proposal id.")]
MarketId = Annotated[int, Path(ge=1, le=MAX_ID, description="A market (branch) id.")]

AfterId = Annotated[
    int, Query(ge=0, le=MAX_ID, description="Return only items with a larger id (paging).")
]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Most items to return.")]
ProposalFilter = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="Only this proposal's items.")
]
MarketFilter = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="Only this market's items.")
]
