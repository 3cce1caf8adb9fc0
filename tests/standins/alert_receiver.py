"""A stand-in Slack-compatible incoming webhook (WSGI): records each JSON message it is sent
and whether its signature header verifies with the deployment's alert signing secret."""

from __future__ import annotations

import json
import threading

from werkzeug.wrappers import Request, Response

from connectors.slack.client import HEADER_SIGNATURE, sign

SIGNING_SECRET = "alert-signing-secret"


class AlertReceiver:
    """The WSGI app plus the messages tests assert on."""

    def __init__(self, signing_secret: str = SIGNING_SECRET) -> None:
        self.signing_secret = signing_secret
        self.messages: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(environ)
        raw = request.get_data()
        with self.lock:
            self.messages.append({**json.loads(raw), "signed": request.headers.get(
                HEADER_SIGNATURE) == sign(self.signing_secret, raw)})
        return Response("ok")(environ, start_response)

    def texts(self) -> list[str]:
        """The text of every message, in order."""
        return [m["text"] for m in self.messages]
