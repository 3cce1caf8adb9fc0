"""The hot profile hash: what a reader gets back, and that it stays a compact listpack."""

from datetime import UTC, datetime

from app.storage import redis_state

SEGMENTS = ["category-dresses", "churn-risk-high", "discount-seeker", "dormant",
            "evening-shopper", "lifecycle-churned", "value-low"]


def profile(segments):
    return {"orders_count": 3, "net_spent": 832.0, "r_score": 1, "rfm_group": "dormant",
            "last_order_at": datetime(2026, 5, 1, tzinfo=UTC), "p_alive": 0.001158,
            "churn_risk": "high", "segment_keys": segments}


def test_profile_round_trips_and_a_left_segment_disappears(app):
    client = app.extensions["redis"]
    redis_state.save_profiles(client, 1, {7: profile(SEGMENTS)})
    redis_state.save_profiles(client, 1, {7: profile(SEGMENTS[1:])})

    read = redis_state.read_profile(client, 1, 7)

    assert read["segment_keys"] == ",".join(SEGMENTS[1:])
    assert read["orders_count"] == "3" and read["rfm_group"] == "dormant"
    assert read["p_alive"] == "0.001158" and read["m_score"] == ""
    assert redis_state.read_profile(client, 1, 8) == {}


def test_a_profile_with_many_segments_keeps_the_compact_encoding(app):
    client = app.extensions["redis"]
    redis_state.save_profiles(client, 1, {7: profile(SEGMENTS)})

    encoding = client.object("encoding", redis_state.profile_key(1, 7)).decode()

    assert encoding in {"listpack", "ziplist"}  # ziplist: Redis before 7


def test_profiles_saved_over_several_round_trips_are_all_written(app, monkeypatch):
    # A whole store's hot copies go out SAVE_BLOCK_PROFILES at a time, from a compact frame.
    import pandas as pd

    from app.storage.bulk import FrameRecords

    monkeypatch.setattr(redis_state, "SAVE_BLOCK_PROFILES", 2)
    client = app.extensions["redis"]
    frame = pd.DataFrame([profile(SEGMENTS[:n]) for n in range(1, 6)],
                         index=pd.Index([11, 12, 13, 14, 15], name="customer_id"))
    records = FrameRecords(frame)
    assert len(records) == 5 and records[13]["segment_keys"] == SEGMENTS[:3]

    redis_state.save_profiles(client, 1, records)

    for n, customer_id in enumerate(range(11, 16), start=1):
        read = redis_state.read_profile(client, 1, customer_id)
        assert read["segment_keys"] == ",".join(SEGMENTS[:n])
        assert read["orders_count"] == "3" and read["p_alive"] == "0.001158"
