"""Inbound webhooks: verify, record in the inbox, enqueue, acknowledge. Nothing else."""

from flask import Blueprint, Flask, Request
from flask.sessions import SecureCookieSessionInterface, SessionMixin

from app.web.webhooks.signals import Signals
from app.web.webhooks.stores import RecentStores


class NoSessionForWebhooks(SecureCookieSessionInterface):
    """Flask's signed-cookie session, not opened for a webhook: a store's delivery carries no
    cookie and has no use for one, and opening one builds a signer on every request."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if request.path.startswith(bp.url_prefix + "/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def _install(state) -> None:
    state.app.extensions.setdefault("webhook_stores", RecentStores())
    state.app.extensions.setdefault(
        "webhook_signals", Signals(state.app, state.app.config["WEBHOOK_SIGNAL_SECONDS"]))
    state.app.session_interface = NoSessionForWebhooks()


bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
bp.record_once(_install)

from app.web.webhooks import shopify, woocommerce  # noqa: E402,F401  (routes register on bp)
