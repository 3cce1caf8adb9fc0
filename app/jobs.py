"""The Celery app, wired into Flask so every task runs inside an application context, and the
one way ``app`` code queues work: :func:`enqueue` by task name (``app`` never imports ``tasks``)."""

from __future__ import annotations

from celery import Celery, Task
from celery.schedules import crontab
from flask import Flask, current_app
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError

from app.storage.embedded_redis import celery_url
from connectors.base import TransientError

TASK_MODULES = ("tasks.backfill", "tasks.ingest", "tasks.reconcile", "tasks.rescore",
                "tasks.retention", "tasks.sweep", "tasks.sync")
QUEUES = ("realtime", "sync", "bulk")
ROUTES = {
    "tasks.ingest.*": {"queue": "realtime"},
    "tasks.sync.*": {"queue": "sync"},
    "tasks.rescore.*": {"queue": "bulk"},
    "tasks.reconcile.*": {"queue": "bulk"},
    "tasks.backfill.*": {"queue": "bulk"},
    "tasks.sweep.*": {"queue": "realtime"},
    "tasks.retention.*": {"queue": "bulk"},
    "tasks.alerts.*": {"queue": "realtime"},
}
SWEEP_INTERVAL_SECONDS = 30.0
FULL_SYNC_INTERVAL_SECONDS = 300.0
RECONCILE_INTERVAL_SECONDS = 900.0
ALERT_CHECK_INTERVAL_SECONDS = 60.0
# Countdowns and ETAs must stay below this, or Redis redelivers the message early.
VISIBILITY_TIMEOUT_SECONDS = 3600


# Failures worth another try: the vendor, the database, Redis or the broker was briefly away.
TRANSIENT_ERRORS = (TransientError, SQLAlchemyOperationalError, RedisConnectionError,
                    BrokerError)


class TagwiseTask(Task):
    """The one retry policy of every task: acknowledged only once it has run (a killed
    worker's task is delivered again), transient failures retried with exponential backoff
    from 5 s (jittered, capped at 10 min) at most 8 times, anything else failed at once and
    logged by the worker. A task that knows better (the ingest task parks an event after
    ``INBOX_MAX_ATTEMPTS``) catches its own errors."""

    acks_late = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 5
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 8


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app for a Flask app (the Flask docs' FlaskTask pattern)."""

    class FlaskTask(TagwiseTask):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask, include=TASK_MODULES)
    celery.conf.update(
        broker_url=celery_url(app.config["TAGWISE_BROKER_URL"] or app.config["REDIS_URL"]),
        broker_connection_retry_on_startup=True,
        # max_retries 0: a publish to a broker that is down fails at once instead of after
        # kombu's ~6 s of reconnects (the webhook must answer within Shopify's 5 s; its row is
        # committed and the sweeper re-signals it). Workers reconnect by their own policy.
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
                                  "max_retries": 0},
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="realtime",
        task_routes=ROUTES,
        task_always_eager=bool(app.config.get("CELERY_ALWAYS_EAGER", False)),
        beat_schedule_filename=str(app.instance_path) + "/celerybeat-schedule",
        beat_schedule={
            "sweep-inbox": {"task": "tasks.sweep.sweep_inbox",
                            "schedule": SWEEP_INTERVAL_SECONDS},
            "sweep-segment-refreshes": {"task": "tasks.sweep.sweep_segment_refreshes",
                                        "schedule": SWEEP_INTERVAL_SECONDS},
            "sync-all": {"task": "tasks.sync.sync_all", "schedule": FULL_SYNC_INTERVAL_SECONDS},
            "reconcile-all": {"task": "tasks.reconcile.reconcile_all",
                              "schedule": RECONCILE_INTERVAL_SECONDS},
            "rescore-all": {"task": "tasks.rescore.rescore_all",
                            "schedule": crontab(minute=0, hour=app.config["RESCORE_HOUR_UTC"])},
            "purge-inbox-bodies": {"task": "tasks.retention.purge_inbox_bodies",
                                   "schedule": crontab(minute=30,
                                                       hour=app.config["RESCORE_HOUR_UTC"])},
            "purge-sync-runs": {"task": "tasks.retention.purge_sync_runs",
                                "schedule": crontab(minute=40,
                                                    hour=app.config["RESCORE_HOUR_UTC"])},
            "drop-legacy-profile-hashes": {"task": "tasks.retention.drop_legacy_profile_hashes",
                                           "schedule": crontab(
                                               minute=50, hour=app.config["RESCORE_HOUR_UTC"])},
            "check-alerts": {"task": "tasks.alerts.check_alerts",
                             "schedule": ALERT_CHECK_INTERVAL_SECONDS},
        },
        worker_hijack_root_logger=False,
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


def enqueue(task_name: str, *args: object, **options: object) -> None:
    """Queue ``tasks.<module>.<task>`` with ``args`` (routing by name, see ROUTES).

    Call it after the transaction that produced the work has committed. With
    ``task_always_eager`` (tests) the task runs here and now.
    """
    celery = current_app.extensions["celery"]
    if celery.conf.task_always_eager:
        celery.loader.import_default_modules()
        celery.tasks[task_name].apply(args=args)
        return
    celery.send_task(task_name, args=args, **options)
