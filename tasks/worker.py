"""Entry point for ``celery -A tasks.worker worker|beat``: the Flask app's Celery instance."""

import gc

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

# Everything loaded so far (modules, the app) lives as long as the process: moved out of the
# collector's reach, a full collection (one every few drain batches) walks only what tasks
# allocated since — it walked the whole heap, a sixth of a drain's CPU — and prefork children
# keep sharing these pages with the parent instead of copying them when a collection writes.
gc.freeze()
