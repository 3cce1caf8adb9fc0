"""Rescore stores the dashboard's reports: grid, cohorts, and the day's segment sizes."""

from collections import Counter
from datetime import UTC, datetime, timedelta

from app.scoring.reports import load_report, segment_trend
from app.storage.db import utcnow
from app.storage.models import Membership, Profile
from tests.scoring.test_rescore_and_rules import small_store
from tests.seeding import add_store


def test_rescore_stores_the_grid_cohorts_and_a_days_segment_sizes(app, client, shop):
    store_id = add_store(app, shop)
    small_store(client, app)
    assert app.test_cli_runner().invoke(args=["rescore", "--store", str(store_id)]).exit_code == 0
    db = app.extensions["db"]
    with db.session() as session:
        grid = load_report(session, store_id, "rfm_grid").data
        cohorts = load_report(session, store_id, "cohort_retention").data
        sizes = load_report(session, store_id, "segment_sizes").data
        profiles = session.query(Profile).filter_by(store_id=store_id).all()
        live = {}
        for row in session.query(Membership).filter_by(store_id=store_id, left_at=None):
            live[row.segment_key] = live.get(row.segment_key, 0) + 1
        trend = segment_trend(session, store_id, utcnow().date())
    assert grid["customers"] == 9 == sum(map(sum, grid["count"]))
    r, f = profiles[0].r_score, profiles[0].f_score
    assert grid["count"][5 - r][f - 1] >= 1
    assert sum(c["customers"] for c in cohorts["cohorts"]) == 9
    assert sizes == live  # the day's sizes are the open memberships right after rescore
    assert trend["days"] == [utcnow().date().isoformat()]
    assert {key: values[-1] for key, values in trend["series"].items()} == sizes


def test_a_second_rescore_on_the_same_day_replaces_that_days_sizes(app, client, shop):
    store_id = add_store(app, shop)
    small_store(client, app)
    runner = app.test_cli_runner()
    runner.invoke(args=["rescore", "--store", str(store_id), "--as-of", "2026-06-30"])
    runner.invoke(args=["rescore", "--store", str(store_id), "--as-of", "2026-06-30"])
    runner.invoke(args=["rescore", "--store", str(store_id)])
    with app.extensions["db"].session() as session:
        trend = segment_trend(session, store_id, datetime.now(UTC).date(), days=400)
    assert trend["days"] == ["2026-06-30", utcnow().date().isoformat()]


def _groups(session, store_id):
    return {p.customer_id: p.rfm_group
            for p in session.query(Profile).filter_by(store_id=store_id)}


def test_two_rescores_store_how_many_customers_moved_between_rfm_groups(app, client, shop):
    store_id = add_store(app, shop)
    small_store(client, app)
    runner = app.test_cli_runner()
    db = app.extensions["db"]
    # Scored 250 days ago, then today: the recent buyers are new back then, and have aged since.
    assert runner.invoke(args=["rescore", "--store", str(store_id), "--as-of",
                               (utcnow() - timedelta(days=250)).date().isoformat()]).exit_code == 0
    with db.session() as session:
        first = load_report(session, store_id, "rfm_movement").data
        before = _groups(session, store_id)
    assert first["since"] is None  # nothing to compare with on the first rescore
    assert runner.invoke(args=["rescore", "--store", str(store_id)]).exit_code == 0
    with db.session() as session:
        movement = load_report(session, store_id, "rfm_movement").data
        after = _groups(session, store_id)
    expected = Counter((before.get(c) or "none", after.get(c) or "none")
                       for c in before.keys() | after.keys()
                       if before.get(c) or after.get(c))
    groups = movement["groups"]
    found = Counter({(groups[i], groups[j]): n for i, row in enumerate(movement["count"])
                     for j, n in enumerate(row) if n})
    assert found == expected
    assert movement["moved"] == sum(n for (a, b), n in expected.items() if a != b) > 0
    assert movement["since"] is not None and movement["customers"] == 9
