"""Store commands: ``tagwise stores add shopify|woocommerce``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app.cli.base import main, secret_option, store_or_fail
from app.services.errors import ServiceError
from app.services.stores import set_alert_url
from app.storage.db import db
from app.storage.models import Store


@main.group("stores")
def stores_group() -> None:
    """Client stores."""


@stores_group.command("list")
@with_appcontext
def stores_list() -> None:
    """Every store: id, platform, domain, customers, last rescore, sync health, dry run."""
    from app.services.stores import store_summaries

    with db().session() as session:
        summaries = store_summaries(session, session.execute(
            select(Store).order_by(Store.id)).scalars())
        if not summaries:
            click.echo("no stores yet: add one with `tagwise stores add shopify|woocommerce`")
        for row in summaries:
            store = row.store
            rescored = store.rescored_at.strftime("%Y-%m-%d %H:%M UTC") if store.rescored_at \
                else "never rescored"
            flags = [store.install_state] if store.install_state != "active" else []
            flags += ["dry run"] if row.dry_run else []
            click.echo(f"{store.id}\t{store.platform}\t{store.domain}\t{row.customers} customers"
                       f"\t{rescored}\tsync {row.sync_health}"
                       + (f"\t({', '.join(flags)})" if flags else ""))


@stores_group.group("add")
def stores_add() -> None:
    """Add a Shopify or WooCommerce store."""


@stores_add.command("shopify")
@click.option("--domain", required=True, help="SHOP.myshopify.com")
@secret_option("--access-token", "TAGWISE_SHOPIFY_ACCESS_TOKEN", required=True,
               help="Admin API access token")
@secret_option("--webhook-secret", "TAGWISE_WEBHOOK_SECRET",
               help="The custom app's secret; defaults to SHOPIFY_API_SECRET")
@click.option("--api-base-url", default=None, help="Replaces https://SHOP for Admin API calls")
@click.option("--tag-prefix", default=None, help="Prefix of every tag Tagwise owns (tw:)")
@click.option("--currency", default=None, help="Default: the shop's (USD with --no-check)")
@click.option("--timezone", "tz", default=None, help="Default: the shop's (UTC with --no-check)")
@click.option("--dry-run", is_flag=True, help="Record tag diffs without writing them")
@click.option("--no-check", is_flag=True,
              help="Do not call the shop to check the token (adding a shop while offline)")
@with_appcontext
def stores_add_shopify(domain: str, access_token: str, webhook_secret: str | None,
               api_base_url: str | None, tag_prefix: str | None, currency: str | None,
               tz: str | None, dry_run: bool, no_check: bool) -> None:
    """Check the token with one cheap call, add the store and its tag destination; print the
    new store's id and where to point the shop's webhooks."""
    import re
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from connectors.shopify.consts import SHOP_DOMAIN_PATTERN

    domain = domain.strip().lower()
    if not re.match(SHOP_DOMAIN_PATTERN, domain):
        raise click.BadParameter("must look like SHOP.myshopify.com", param_hint="--domain")
    try:
        ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.BadParameter("not an IANA timezone", param_hint="--timezone") from exc
    from app.services.stores import add_shopify_store, find_shopify_store

    if not no_check:
        shop_currency, shop_zone = _check_shop(domain, access_token, api_base_url)
        currency, tz = currency or shop_currency, tz or shop_zone

    box = current_app.extensions["secret_box"]
    with db().session() as session:
        if find_shopify_store(session, domain):
            raise click.ClickException(f"{domain} is already a store")
        store = add_shopify_store(
            session, domain, api_base_url=api_base_url, currency=currency or "USD",
            timezone=tz or "UTC",
            tag_prefix=tag_prefix or current_app.config["DEFAULT_TAG_PREFIX"], dry_run=dry_run)
        store.access_token_enc = box.encrypt(access_token)
        store.webhook_secret_enc = box.encrypt(webhook_secret) if webhook_secret else None
        store_id = store.id
    click.echo(store_id)
    app_url = current_app.config["APP_URL"].rstrip("/")
    click.echo(f"next: point the shop's webhooks (orders, refunds, customers) at "
               f"{app_url}/webhooks/shopify, then run `tagwise backfill --store {store_id}`",
               err=True)  # stdout stays the bare id, for scripts


def _check_shop(domain: str, access_token: str,
                api_base_url: str | None) -> tuple[str | None, str | None]:
    """Ask the shop for its currency and timezone: one cheap call that proves the token."""
    from connectors.base import PermanentError, RetryPolicy, TransientError
    from connectors.shopify.client import ShopifyClient
    from connectors.shopify.subscriptions import shop_settings

    base_url = api_base_url or current_app.config["SHOPIFY_API_BASE_URL_TEMPLATE"].format(
        shop=domain)
    client = ShopifyClient(base_url, access_token, current_app.config["SHOPIFY_API_VERSION"],
                           policy=RetryPolicy(max_attempts=2))
    try:
        return shop_settings(client)
    except PermanentError as exc:
        raise click.ClickException(f"the shop refused the access token ({exc}); nothing "
                                   f"added") from exc
    except TransientError as exc:
        raise click.ClickException(f"could not reach {base_url} ({exc}); nothing added "
                                   f"(--no-check adds the shop without asking it)") from exc


@stores_add.command("woocommerce")
@click.option("--url", "site_url", required=True, help="https://SITE/")
@secret_option("--consumer-key", "TAGWISE_WOO_CONSUMER_KEY", required=True)
@secret_option("--consumer-secret", "TAGWISE_WOO_CONSUMER_SECRET", required=True)
@secret_option("--webhook-secret", "TAGWISE_WEBHOOK_SECRET",
               help="Secret of webhooks you create yourself; generated when Tagwise creates them")
@click.option("--api-base-url", default=None, help="Replaces the site URL for REST API calls")
@click.option("--tag-prefix", default=None)
@click.option("--currency", default="USD", show_default=True)
@click.option("--timezone", "tz", default="UTC", show_default=True)
@click.option("--no-create-webhooks", is_flag=True,
              help="Do not create the webhooks through the REST API")
@with_appcontext
def stores_add_woocommerce(site_url: str, consumer_key: str, consumer_secret: str,
                           webhook_secret: str | None, api_base_url: str | None,
                           tag_prefix: str | None, currency: str, tz: str,
                           no_create_webhooks: bool) -> None:
    """Add a WooCommerce store; create its webhooks; print its id and delivery URL."""
    import secrets

    from app.clients import store_client
    from app.services.stores import add_store
    from connectors.base import ConnectorError
    from connectors.woocommerce.client import credentials_secret
    from connectors.woocommerce.subscriptions import create_subscriptions

    if not site_url.startswith(("https://", "http://")):
        raise click.BadParameter("must be the site's URL, https://SITE/", param_hint="--url")
    site_url = site_url.rstrip("/") + "/"
    secret = webhook_secret or secrets.token_urlsafe(32)
    box = current_app.extensions["secret_box"]
    with db().session() as session:
        if session.execute(select(Store).filter_by(platform="woocommerce",
                                                   domain=site_url)).scalar():
            raise click.ClickException(f"{site_url} is already a store")
        store = add_store(session, "woocommerce", site_url, api_base_url=api_base_url,
                          tag_prefix=tag_prefix or current_app.config["DEFAULT_TAG_PREFIX"],
                          currency=currency, timezone=tz)
        store.access_token_enc = box.encrypt(credentials_secret(consumer_key, consumer_secret))
        store.webhook_secret_enc = box.encrypt(secret)
        app_url = current_app.config["APP_URL"].rstrip("/")
        delivery_url = f"{app_url}/webhooks/woocommerce/{store.id}"
        if not no_create_webhooks:
            try:
                create_subscriptions(store_client(store), delivery_url, secret)
            except ConnectorError as exc:  # the transaction rolls back: no half-added store
                raise click.ClickException(f"could not create webhooks: {exc}") from exc
        store_id = store.id
    click.echo(store_id)
    click.echo(f"delivery URL: {delivery_url}")


@stores_group.command("alert-url")
@click.option("--store", "store_id", type=int, required=True, help="The store")
@secret_option("--url", "TAGWISE_STORE_ALERT_URL",
               help="Slack-compatible incoming webhook URL for this store's alerts")
@click.option("--clear", is_flag=True, help="Remove the store's own alert receiver")
@with_appcontext
def stores_alert_url(store_id: int, url: str | None, clear: bool) -> None:
    """Send this store's alerts (destinations, inbox, webhook silence) to its own receiver too."""
    if clear == bool(url):
        raise click.UsageError("give either --url or --clear")
    with db().session() as session:
        store = store_or_fail(session, store_id)
        try:
            set_alert_url(store, None if clear else url, current_app.extensions["secret_box"],
                          allow_private=current_app.config["TAGWISE_ALLOW_PRIVATE_URLS"])
        except ServiceError as exc:
            raise click.ClickException(exc.message) from exc
    click.echo(f"store {store_id}: alerts go to its own receiver too" if url else
               f"store {store_id}: no receiver of its own")
