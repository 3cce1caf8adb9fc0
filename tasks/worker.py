"""Entry point for ``celery -A tasks.worker worker|beat``: the Flask app's Celery instance."""

from app import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]

import tasks.alerts  # noqa: E402,F401  (register the tasks)
import tasks.backfill  # noqa: E402,F401
import tasks.ingest  # noqa: E402,F401
import tasks.reconcile  # noqa: E402,F401
import tasks.rescore  # noqa: E402,F401
import tasks.retention  # noqa: E402,F401
import tasks.sweep  # noqa: E402,F401
import tasks.sync  # noqa: E402,F401
