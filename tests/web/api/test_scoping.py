"""Users see only their stores: another store's anything answers 404, exactly like a missing one."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.services.auth import (
    authenticate_password,
    authenticate_token,
    principal_for_shop,
    principal_for_user_id,
)
from app.storage.models import Membership, Segment, User
from tests.conftest import API_TOKEN
from tests.seeding import CUSTOMER_ID, add_store, two_stores

PASSWORD = "correct horse battery"


def add_user(app, email: str, *scope: str, password: str = PASSWORD) -> str:
    """``tagwise users add`` with the password on stdin; return the printed API token."""
    result = app.test_cli_runner().invoke(
        args=["users", "add", email, *scope, "--password-stdin"], input=password + "\n")
    assert result.exit_code == 0, result.output
    return re.search(r"API token \(shown once\): (\S+)", result.output).group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def store_routes(app) -> list[tuple[str, str]]:
    """Every /api/v1 route under a store, with each method it answers."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/stores/<int:store_id>"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((method, rule.rule))
    return found


def fill(rule: str, store_id: int) -> str:
    path = rule.replace("<int:store_id>", str(store_id))
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: {"platform_customer_id": str(CUSTOMER_ID)}
                  .get(m.group(1), "1"), path)


@pytest.fixture
def stores(app, client, shop):
    return two_stores(app, client, shop)


def test_a_scoped_user_lists_and_reads_only_its_own_store(app, client, stores):
    mine, theirs = stores
    token = add_user(app, "Staff@Shop.example", "--store", str(mine))
    listed = client.get("/api/v1/stores", headers=bearer(token)).json["stores"]
    assert [s["id"] for s in listed] == [mine]
    assert client.get(f"/api/v1/stores/{mine}", headers=bearer(token)).status_code == 200
    view = client.get(f"/api/v1/stores/{mine}/customers/{CUSTOMER_ID}", headers=bearer(token))
    assert view.status_code == 200 and view.json["segments"]
    created = client.post(f"/api/v1/stores/{mine}/segments", headers=bearer(token),
                          json={"key": "regulars", "rule": "orders_count >= 2"})
    assert created.status_code == 201
    everything = client.get("/api/v1/stores", headers=bearer(API_TOKEN)).json["stores"]
    assert {s["id"] for s in everything} == {mine, theirs}


def test_every_store_route_answers_404_for_another_store_and_changes_nothing(app, client,
                                                                             stores):
    mine, theirs = stores
    token = add_user(app, "staff@shop.example", "--store", str(mine))
    missing = client.get("/api/v1/stores/999999", headers=bearer(API_TOKEN)).json
    with app.extensions["db"].session() as session:
        before = (session.scalar(select(func.count()).select_from(Segment)),
                  session.scalar(select(func.count()).select_from(Membership)))
    routes = store_routes(app)
    assert ("GET", "/api/v1/stores/<int:store_id>/customers/<platform_customer_id>") in routes
    for method, rule in routes:
        response = client.open(fill(rule, theirs), method=method, headers=bearer(token),
                               json={"key": "stolen", "rule": "orders_count >= 1"})
        assert response.status_code == 404, (method, rule)
        body = response.json
        assert body["error"]["reason"] == "store_not_found"
        assert body["error"]["message"] == f"no store {theirs}"
        assert missing["error"]["message"] == "no store 999999"  # same words as a missing one
    with app.extensions["db"].session() as session:
        after = (session.scalar(select(func.count()).select_from(Segment)),
                 session.scalar(select(func.count()).select_from(Membership)))
    assert after == before


def test_an_agency_admin_token_sees_every_store(app, client, stores):
    token = add_user(app, "admin@agency.example", "--all-stores")
    listed = client.get("/api/v1/stores", headers=bearer(token)).json["stores"]
    assert {s["id"] for s in listed} == set(stores)
    for store_id in stores:
        assert client.get(f"/api/v1/stores/{store_id}/destinations",
                          headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Bearer wrong", "Basic abc",
                                    "Bearer twu_unknown", "Bearer é"])
def test_a_missing_or_wrong_token_is_401(client, header):
    response = client.get("/api/v1/stores", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json["error"]["reason"] == "unauthorized"


def test_rotating_a_token_stops_the_old_one(app, client, stores):
    old = add_user(app, "staff@shop.example", "--store", str(stores[0]))
    result = app.test_cli_runner().invoke(args=["users", "token", "STAFF@shop.example"])
    assert result.exit_code == 0, result.output
    new = re.search(r"API token \(shown once\): (\S+)", result.output).group(1)
    assert client.get("/api/v1/stores", headers=bearer(old)).status_code == 401
    assert client.get("/api/v1/stores", headers=bearer(new)).status_code == 200


def test_users_are_stored_without_their_secrets_and_listed(app, stores):
    token = add_user(app, "staff@shop.example", "--store", str(stores[0]), "--store",
                     str(stores[1]))
    add_user(app, "admin@agency.example", "--all-stores")
    with app.extensions["db"].session() as session:
        user = session.execute(select(User).filter_by(email="staff@shop.example")).scalar_one()
        assert token not in (user.api_token_hash or "") and PASSWORD not in user.password_hash
    listed = app.test_cli_runner().invoke(args=["users", "list"]).output.splitlines()
    assert listed == ["admin@agency.example\tall stores",
                      f"staff@shop.example\t{stores[0]},{stores[1]}"]


@pytest.mark.parametrize("args, stdin, message", [
    (["users", "add", "a@b.example"], "long enough pw\n", "--store ID"),
    (["users", "add", "a@b.example", "--store", "1", "--all-stores"], "long enough pw\n",
     "--store ID"),
    (["users", "add", "not-an-email", "--all-stores"], "long enough pw\n", "not an email"),
    (["users", "add", "a@b.example", "--all-stores"], "short\n", "10 to 1024 characters"),
    (["users", "add", "a@b.example", "--store", "999999"], "long enough pw\n", "no store 999999"),
    (["users", "token", "nobody@b.example"], "", "no user nobody@b.example"),
])
def test_users_commands_refuse_bad_input_clearly(app, args, stdin, message):
    result = app.test_cli_runner().invoke(args=[*args, "--password-stdin"]
                                          if args[1] == "add" else args, input=stdin)
    assert result.exit_code != 0 and message in result.output
    with app.extensions["db"].session() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_a_second_user_with_the_same_email_is_refused(app, stores):
    add_user(app, "staff@shop.example", "--store", str(stores[0]))
    result = app.test_cli_runner().invoke(
        args=["users", "add", " Staff@Shop.Example ", "--all-stores", "--password-stdin"],
        input=PASSWORD + "\n")
    assert result.exit_code != 0 and "already exists" in result.output


def test_dashboard_login_helpers_give_the_same_scopes(app, stores):
    mine, theirs = stores
    token = add_user(app, "staff@shop.example", "--store", str(mine))
    with app.extensions["db"].session() as session:
        principal = authenticate_password(session, "  STAFF@shop.example", PASSWORD)
        assert principal.can_see(mine) and not principal.can_see(theirs)
        assert authenticate_password(session, "staff@shop.example", PASSWORD + "x") is None
        assert authenticate_password(session, "nobody@shop.example", PASSWORD) is None
        assert authenticate_token(session, token, API_TOKEN) == principal
        assert authenticate_token(session, API_TOKEN, API_TOKEN).all_stores
        assert principal_for_user_id(session, principal.user_id) == principal
        assert principal_for_user_id(session, 999999) is None
        shop_principal = principal_for_shop(session, theirs)
        assert shop_principal.can_see(theirs) and not shop_principal.can_see(mine)
        assert principal_for_shop(session, 999999) is None


def test_an_uninstalled_shop_gets_no_principal(app, shop):
    store_id = add_store(app, shop)
    with app.extensions["db"].session() as session:
        from app.storage.models import Store

        session.get(Store, store_id).install_state = "uninstalled"
    with app.extensions["db"].session() as session:
        assert principal_for_shop(session, store_id) is None
