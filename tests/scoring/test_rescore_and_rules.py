"""Rescore wires the prediction core into profiles; rule segments become tags with reasons."""

from datetime import timedelta

from tests.conftest import API_TOKEN
from tests.seeding import (
    CUSTOMER_ID,
    add_store,
    customer_view,
    days_ago,
    deliver,
    order_payload,
    process_pending,
    sync_dirty,
)

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def small_store(client, app):
    start = days_ago(300)
    for i in range(3):  # the captured customer buys three times
        deliver(client, "orders/create",
                order_payload(i + 1, created=start + timedelta(days=90 * i)), f"o{i}")
    for i in range(8):
        deliver(client, "orders/create",
                order_payload(100 + i, customer_id=7000 + i, email=f"c{i}@x.com",
                              created=days_ago(20 * i + 5), total=f"{15 * (i + 1)}.00"), f"p{i}")
    process_pending(app)


def test_rescore_writes_predictions_and_reports_how_much_is_prior(app, client, shop):
    store_id = add_store(app, shop)
    assert client.get(f"/api/v1/stores/{store_id}/model", headers=AUTH).status_code == 404
    small_store(client, app)
    result = app.test_cli_runner().invoke(args=["rescore", "--store", str(store_id)])
    assert result.exit_code == 0, result.output
    model = client.get(f"/api/v1/stores/{store_id}/model", headers=AUTH).json
    # A handful of customers: the store's own fit, shrunk mostly to the CDNOW prior.
    assert model["basis"] == "store_fit" and model["model"] in {"bgnbd", "paretonbd"}
    assert model["time_unit_days"] == 7.0 and model["prior_weight"] > 0.5
    assert model["fit_seconds"] <= model["fit_budget_seconds"] + 1
    assert len(model["churn_cutoffs"]) == 2
    low, high = model["totals"]["expected_orders_interval"]
    assert 0 <= low <= model["totals"]["expected_orders"] <= high
    view = customer_view(client, store_id)
    assert view["prediction_basis"] == "store_fit"
    assert 0 <= view["p_alive"] <= 1 and view["expected_orders_90d"] >= 0
    assert view["predicted_clv_12m"] >= 0 and view["value_tier"] in {"high", "medium", "low"}
    assert view["churn_risk"] in {"high", "medium", "low"}
    churn = [s for s in view["segments"] if s["key"].startswith("churn-risk-")]
    assert len(churn) == 1
    third = {"high": "lowest", "medium": "middle", "low": "highest"}[view["churn_risk"]]
    assert churn[0]["explanation"].endswith(
        f"chance of an order in 90 days ({third} third of the store)")


def test_rescore_as_of_ignores_later_orders(app, client, shop):
    store_id = add_store(app, shop)
    small_store(client, app)
    as_of = (days_ago(300) + timedelta(days=100)).date().isoformat()
    result = app.test_cli_runner().invoke(args=["rescore", "--store", str(store_id),
                                                "--as-of", as_of])
    assert result.exit_code == 0, result.output
    assert customer_view(client, store_id)["profile"]["orders_count"] == 2


def test_a_rule_segment_tags_exactly_the_customers_it_selects_and_says_why(app, client, shop):
    store_id = add_store(app, shop)
    small_store(client, app)
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["segments", "add", "--store", str(store_id), "--key", "regulars",
                              "--rule", "order_count >= 2"])
    assert bad.exit_code != 0
    assert "unknown field 'order_count' at 1:1" in bad.output and "orders_count" in bad.output
    preview = runner.invoke(args=["segments", "preview", "--store", str(store_id),
                                  "--rule", "orders_count >= 2"])
    assert preview.output.startswith("1 of 9 customers")
    elsewhere = runner.invoke(args=["segments", "preview", "--store", "99",
                                    "--rule", "orders_count >= 2"])
    assert elsewhere.exit_code != 0
    assert elsewhere.output.strip() == "Error: no store 99"  # not blamed on the rule
    added = runner.invoke(args=["segments", "add", "--store", str(store_id), "--key", "regulars",
                                "--rule", "orders_count >= 2 and net_spent > 50"])
    assert added.exit_code == 0, added.output
    runner.invoke(args=["rescore", "--store", str(store_id)])
    sync_dirty(app)
    view = customer_view(client, store_id)
    [regular] = [s for s in view["segments"] if s["key"] == "regulars"]
    assert regular["explanation"] == "orders_count 3 >= 2 and net_spent 300 > 50"
    assert "tw:regulars" in shop.tags_of(str(CUSTOMER_ID))
    other = customer_view(client, store_id, 7000)
    assert "regulars" not in {s["key"] for s in other["segments"]}
