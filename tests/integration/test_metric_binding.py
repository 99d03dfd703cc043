"""A proposal binds to the adopted metric version in force on the day its trading opens,
takes its tradable bounds, and keeps that binding when the council adopts a new version."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from db.session import Database
from db.types import utcnow
from market.errors import InvalidProposal, MetricNotInForce
from market.models import AssetKind
from market.proposals import create_proposal, get_proposal, markets_of
from tests.helpers import adopt_metric
from tests.integration.trading_helpers import UNIT, new_account, snapshot, spec
from welfare.errors import UnknownMetricVersion
from welfare.metric_service import create_version, get_version
from welfare.observation_service import create_indicator


def test_a_proposal_binds_to_the_version_in_force_and_takes_its_bounds(db: Database) -> None:
    with db.write() as s:
        metric = adopt_metric(s, lo=-5.0, hi=15.0)
        sponsor = new_account(s, "sponsor", "admin", cash=1_000 * UNIT)
        implicit = create_proposal(s, sponsor, spec(title="Implicit"))
        named = create_proposal(s, sponsor, spec(title="Named", metric_version_id=metric))
        echoed = create_proposal(s, sponsor, spec(title="Echoed", lo=-5.0, hi=15.0))
        ids = (implicit.id, named.id, echoed.id)
    with db.read() as s:
        for pid in ids:
            p = get_proposal(s, pid)
            assert (p.metric_version_id, p.lo, p.hi) == (metric, -5.0, 15.0)


def test_without_a_version_in_force_no_market_opens(db: Database) -> None:
    with db.write() as s:
        sponsor = new_account(s, "sponsor", "admin", cash=1_000 * UNIT)
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(MetricNotInForce, match="no adopted metric version is in force on"):
            create_proposal(s, sponsor, spec())
        assert snapshot(s) == before


def test_a_draft_an_unknown_or_a_superseded_version_is_refused(db: Database) -> None:
    today = utcnow().date()
    with db.write() as s:
        old = adopt_metric(s, name="Old welfare", effective_from=date(2000, 1, 1))
        current = adopt_metric(s, name="Current welfare", effective_from=date(2020, 1, 1))
        create_indicator(s, "other", "points")
        draft = create_version(
            s,
            {
                "name": "Draft welfare",
                "entity": "Testland",
                "unit": "points",
                "lo": 0.0,
                "hi": 100.0,
                "components": [
                    {
                        "key": "other",
                        "indicator": "other",
                        "unit": "points",
                        "weight": 1.0,
                        "normalisation": {"kind": "goalposts", "lo": 0.0, "hi": 1.0},
                    }
                ],
            },
        ).version_id
        sponsor = new_account(s, "sponsor", "admin", cash=1_000 * UNIT)
    with db.write() as s:
        before = snapshot(s)
        with pytest.raises(MetricNotInForce, match=r"is a draft; a proposal binds only to"):
            create_proposal(s, sponsor, spec(metric_version_id=draft))
        with pytest.raises(
            MetricNotInForce,
            match=rf"not in force on {today.isoformat()}.*the version in force then is "
            rf"{current[:12]}… \('Current welfare'\)",
        ):
            create_proposal(s, sponsor, spec(metric_version_id=old))
        with pytest.raises(UnknownMetricVersion, match=r"no metric version with id 'f{64}'"):
            create_proposal(s, sponsor, spec(metric_version_id="f" * 64))
        assert snapshot(s) == before


def test_binned_edges_must_span_the_versions_bounds(db: Database) -> None:
    with db.write() as s:
        adopt_metric(s, lo=0.0, hi=30.0)
        sponsor = new_account(s, "sponsor", "admin", cash=1_000 * UNIT)
        pid = create_proposal(
            s,
            sponsor,
            spec(asset_kind=AssetKind.BINNED, bin_edges=(0.0, 10.0, 20.0, 30.0)),
        ).id
        with pytest.raises(InvalidProposal, match=r"edges run from 0 to 40 but the bounds are"):
            create_proposal(
                s, sponsor, spec(asset_kind=AssetKind.BINNED, bin_edges=(0.0, 20.0, 40.0))
            )
    with db.read() as s:
        assert markets_of(s, pid)[0].outcomes == ["[0, 10)", "[10, 20)", "[20, 30]"]


def test_a_new_version_never_changes_an_open_proposal(db: Database) -> None:
    """v2 is adopted to take effect in ten days: a proposal opening now stays on v1 for
    good; one opening after v2's effective date binds to v2 and its bounds."""
    now = utcnow()
    with db.write() as s:
        v1 = adopt_metric(s, lo=0.0, hi=100.0, effective_from=date(2000, 1, 1))
        sponsor = new_account(s, "sponsor", "admin", cash=1_000 * UNIT)
        open_now = create_proposal(s, sponsor, spec(title="Opens now")).id
    with db.write() as s:
        v2 = adopt_metric(s, lo=0.0, hi=1.0, effective_from=(now + timedelta(days=10)).date())
        later = create_proposal(
            s,
            sponsor,
            spec(
                title="Opens in eleven days",
                opens_at=now + timedelta(days=11),
                closes_at=now + timedelta(days=12),
            ),
        ).id
        also_now = create_proposal(s, sponsor, spec(title="Also opens now")).id
    with db.read() as s:
        assert get_version(s, v2).status == "adopted"
        bound = {
            pid: (get_proposal(s, pid).metric_version_id, get_proposal(s, pid).hi)
            for pid in (open_now, later, also_now)
        }
    assert bound == {open_now: (v1, 100.0), later: (v2, 1.0), also_now: (v1, 100.0)}
