"""Tagwise: the Flask application factory."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import redis
from flask import Flask

from app.config import load_config
from app.storage import embedded_redis
from app.storage.crypto import SecretBox
from app.storage.db import Database


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: configuration, database, Redis, Celery, blueprints. No import-time work."""
    app = Flask(__name__, instance_relative_config=True)
    overrides = dict(config or {})
    instance_path = overrides.pop("INSTANCE_PATH", None) or os.environ.get("TAGWISE_INSTANCE_PATH")
    if instance_path:
        app.instance_path = str(instance_path)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.update(load_config(instance, overrides))
    app.config["MAX_CONTENT_LENGTH"] = app.config["WEBHOOK_MAX_BYTES"]
    if proxies := app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    logging.basicConfig(level=app.config["LOG_LEVEL"],
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not app.config["REDIS_URL"]:
        app.config["REDIS_URL"] = embedded_redis.ensure_running(instance)
    app.extensions["db"] = Database(app.config["DATABASE_URL"])
    app.extensions["redis"] = redis.Redis.from_url(app.config["REDIS_URL"])
    app.extensions["secret_box"] = SecretBox(app.config["TAGWISE_ENCRYPTION_KEY"])

    from app.jobs import celery_init_app

    celery_init_app(app)

    from app.web import api, dashboard, errors, health, metrics, shopify_install, webhooks

    errors.init_app(app)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(shopify_install.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    dashboard.init_app(app)
    metrics.init_app(app)

    from app.cli import register_commands

    register_commands(app)
    return app
