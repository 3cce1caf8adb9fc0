"""The ingest baseline: a bare Flask route that reads the body and returns 200, nothing else.

Served by gunicorn with the same settings as the real app (``gunicorn bench.bare_app:app``).
"""

from flask import Flask, request

app = Flask(__name__)


@app.post("/webhooks/shopify")
def receive():
    """Read the delivery and acknowledge it."""
    request.get_data(cache=False)
    return "", 200


@app.get("/")
def index():
    """Answer readiness probes."""
    return "", 200
