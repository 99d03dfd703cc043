"""Small helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy.orm import Session

from welfare.metric_service import adopt_version, create_version
from welfare.observation_service import create_indicator, find_indicator
from welfare.records import VersionStatus

MakeAccount = Callable[..., tuple[int, str]]
"""``make_account(role, name=None) -> (account id, API key)``."""


def auth(key: str) -> dict[str, str]:
    """Authorization headers for an API key."""
    return {"Authorization": f"Bearer {key}"}


SCORE_INDICATOR = "score"
"""The one indicator of `adopt_metric`'s versions (unit ``points``)."""


def adopt_metric(
    session: Session,
    *,
    lo: float = 0.0,
    hi: float = 100.0,
    effective_from: date = date(2000, 1, 1),
    name: str = "Test welfare",
    motion_id: int = 1,
) -> str:
    """Put in force a one-component metric version with tradable bounds ``[lo, hi]`` and
    return its id (its SHA-256).

    Adopts it as a passed ``adopt_metric_version`` motion does (`adopt_version`, here with
    a stand-in motion id: the council's own tests cover the motion). Calling it again with
    the same arguments returns the same, already adopted version.
    """
    if find_indicator(session, SCORE_INDICATOR) is None:
        create_indicator(session, SCORE_INDICATOR, "points", "A test score")
    version = create_version(
        session,
        {
            "name": name,
            "entity": "Testland",
            "unit": "points",
            "lo": lo,
            "hi": hi,
            "components": [
                {
                    "key": "score",
                    "indicator": SCORE_INDICATOR,
                    "unit": "points",
                    "weight": 1.0,
                    "normalisation": {"kind": "goalposts", "lo": lo, "hi": hi},
                }
            ],
        },
    )
    if version.status == VersionStatus.DRAFT.value:
        adopt_version(session, version.version_id, effective_from, motion_id)
    return version.version_id
