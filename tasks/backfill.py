"""Import a Shopify store's whole history through a GraphQL bulk operation, resumably.

One bulk operation per resource (customers, then orders with their line items); each is
polled with backoff until COMPLETED, and its JSONL result is streamed line by line, records
reassembled from their ``__parentId`` children, normalised by the webhook normaliser and
upserted by the webhook upserts (in bulk), a chunk per transaction. That transaction also moves
the job's line offset, so a killed worker resumes at the first unapplied line of the same
result; the upserts being idempotent, even a replayed chunk counts nothing twice. Profiles
are not refreshed per record: one rescore at the end recomputes every customer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from celery import shared_task
from flask import current_app
from sqlalchemy import select

from app.clients import CredentialsUnavailable, store_client
from app.ingest.upsert import apply_records
from app.services import serialise
from app.storage.db import Database, utcnow
from app.storage.models import (
    BACKFILL_COMPLETED,
    BACKFILL_FAILED,
    BACKFILL_RUNNING,
    BACKFILL_STOPPED,
    BackfillJob,
    Store,
)
from connectors.base import PayloadError, PermanentError, TransientError
from connectors.registry import platform_for
from connectors.shopify.client import ShopifyClient
from connectors.shopify.history import bulk_query, read_records
from connectors.shopify.normalise import rest_customer, rest_order
from tasks.rescore import run_rescore

log = logging.getLogger(__name__)

PHASES = ("customers", "orders", "rescore")
# Each resource is fed to the normaliser as the webhook topic that carries that shape.
PHASE_TOPICS = {"customers": "customers/update", "orders": "orders/updated"}
PHASE_SHAPES = {"customers": rest_customer, "orders": rest_order}
RECORDS_PER_CHUNK = 500
POLL_FIRST_SECONDS = 1.0
POLL_MAX_SECONDS = 30.0
POLL_DEADLINE_SECONDS = 6 * 3600.0
# shopify.dev BulkOperationStatus: these end an operation without a usable result.
FAILED_STATUSES = {"FAILED", "CANCELED", "CANCELING", "EXPIRED"}

Progress = Callable[[str, int, int | None], None]


class BackfillFailed(Exception):
    """The backfill cannot finish: the bulk operation failed or the shop refused it."""


class BackfillStopped(Exception):
    """The store was uninstalled mid-backfill: stop, and say so on the job."""


class JobTakenOver(Exception):
    """Another worker moved this job's offset on: leave the job to it."""


def open_job(db: Database, store_id: int, since: datetime | None) -> int:
    """Resume the store's unfinished job, or start a new one; return its id."""
    with db.session() as session:
        store = session.get(Store, store_id)
        if store is None or store.platform != "shopify":
            raise LookupError(f"no Shopify store {store_id}")
        job = session.execute(select(BackfillJob).filter_by(
            store_id=store_id, status=BACKFILL_RUNNING).order_by(BackfillJob.id.desc())).scalar()
        if job is None:
            job = BackfillJob(store_id=store_id, since=since, phase=PHASES[0])
            session.add(job)
            session.flush()
        return job.id


def run_backfill(store_id: int, since: datetime | None = None,
                 progress: Progress = lambda phase, done, total: None,
                 client: ShopifyClient | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Import (or resume importing) a shop's history, then rescore once; return the job."""
    db = current_app.extensions["db"]
    job_id = open_job(db, store_id, since)
    try:
        _check_installed(db, store_id)
        if client is None:
            with db.session() as session:
                client = store_client(session.get(Store, store_id))
        while (phase := _job(db, job_id).phase) != "done":
            if phase == "rescore":
                _check_installed(db, store_id)
                run_rescore(store_id)
            else:
                _import(db, job_id, phase, client, progress, sleep)
            _advance(db, job_id, phase)
    except BackfillStopped as exc:
        _finish(db, job_id, BACKFILL_STOPPED, str(exc))
    except JobTakenOver as exc:
        log.warning("%s", exc)
    except (BackfillFailed, PermanentError, CredentialsUnavailable) as exc:
        _finish(db, job_id, BACKFILL_FAILED, str(exc))
        raise BackfillFailed(str(exc)) from exc
    except TransientError as exc:  # left running: the next run resumes where this one stopped
        _note(db, job_id, f"interrupted, will resume: {exc}")
        raise
    else:
        _finish(db, job_id, BACKFILL_COMPLETED, None)
    return serialise.backfill_job(_job(db, job_id))


def _job(db: Database, job_id: int) -> BackfillJob:
    with db.session() as session:
        job = session.get(BackfillJob, job_id)
        session.expunge(job)
        return job


def _check_installed(db: Database, store_id: int) -> None:
    with db.session() as session:
        state = session.get(Store, store_id).install_state
    if state != "active":
        raise BackfillStopped(f"store is {state}")


def _import(db: Database, job_id: int, phase: str, client: ShopifyClient, progress: Progress,
            sleep: Callable[[float], None]) -> None:
    job = _job(db, job_id)
    _check_installed(db, job.store_id)
    if job.operation_id is None:
        operation_id = client.run_bulk_query(bulk_query(phase, job.since))
        with db.session() as session:
            row = session.get(BackfillJob, job_id)
            row.operation_id, row.lines_done, row.lines_total = operation_id, 0, None
            row.updated_at = utcnow()
        job = _job(db, job_id)
    operation = _wait_for(db, job.store_id, client, job.operation_id, sleep)
    total = int(operation.get("objectCount") or 0)
    with db.session() as session:
        session.get(BackfillJob, job_id).lines_total = total
    progress(phase, job.lines_done, total)
    if not operation.get("url"):  # Shopify gives no file when nothing matched
        return
    done = job.lines_done
    chunk: list[dict] = []
    lines = client.iter_result_lines(operation["url"], skip=done)
    for node, used in read_records(lines):
        chunk.append(node)
        if len(chunk) >= RECORDS_PER_CHUNK:
            done = _apply_chunk(db, job_id, phase, chunk, done, job.lines_done + used)
            progress(phase, done, total)
            chunk = []
    if chunk:
        done = _apply_chunk(db, job_id, phase, chunk, done, job.lines_done + used)
        progress(phase, done, total)


def _wait_for(db: Database, store_id: int, client: ShopifyClient, operation_id: str,
              sleep: Callable[[float], None]) -> dict:
    """Poll the operation with exponential backoff until it completes; raise if it ends badly."""
    delay, waited = POLL_FIRST_SECONDS, 0.0
    while True:
        operation = client.bulk_operation(operation_id)
        status = operation.get("status")
        if status == "COMPLETED":
            return operation
        if status in FAILED_STATUSES:
            raise BackfillFailed(f"bulk operation {operation_id} ended {status}"
                                 + (f" ({operation['errorCode']})"
                                    if operation.get("errorCode") else ""))
        if waited >= POLL_DEADLINE_SECONDS:
            raise TransientError(f"bulk operation {operation_id} still {status} after "
                                 f"{waited:.0f}s", reason="bulk_slow")
        _check_installed(db, store_id)
        sleep(delay)
        waited += delay
        delay = min(delay * 2, POLL_MAX_SECONDS)


def _apply_chunk(db: Database, job_id: int, phase: str, nodes: list[dict], start: int,
                 end: int) -> int:
    """Upsert a chunk of records and move the job's offset in the same transaction."""
    normalise = platform_for("shopify").normalise
    with db.session() as session:
        job = session.execute(select(BackfillJob).filter_by(id=job_id)
                              .with_for_update()).scalar_one()
        if job.lines_done != start or job.status != BACKFILL_RUNNING:
            raise JobTakenOver(f"backfill job {job_id} moved on without this worker")
        store = session.get(Store, job.store_id)
        if store.install_state != "active":
            raise BackfillStopped(f"store is {store.install_state}")
        records, applied, rejected = [], 0, 0
        for node in nodes:
            try:
                records.extend(normalise(PHASE_TOPICS[phase], PHASE_SHAPES[phase](node)))
            except PayloadError as exc:
                rejected += 1
                log.warning("backfill store %s: record rejected: %s", store.id, exc)
                continue
            applied += 1
        apply_records(db, session, store, records)  # the webhook upserts, in bulk
        setattr(job, phase, getattr(job, phase) + applied)
        job.rejected += rejected
        job.lines_done = end
        job.updated_at = utcnow()
    return end


def _advance(db: Database, job_id: int, phase: str) -> None:
    with db.session() as session:
        job = session.get(BackfillJob, job_id)
        index = PHASES.index(phase)
        job.phase = PHASES[index + 1] if index + 1 < len(PHASES) else "done"
        job.operation_id, job.lines_done, job.lines_total = None, 0, None
        job.updated_at = utcnow()


def _finish(db: Database, job_id: int, status: str, error: str | None) -> None:
    with db.session() as session:
        job = session.get(BackfillJob, job_id)
        job.status, job.error = status, error[:1000] if error else None
        job.finished_at = job.updated_at = utcnow()
    log.info("backfill job %s %s", job_id, status)


def _note(db: Database, job_id: int, error: str) -> None:
    with db.session() as session:
        job = session.get(BackfillJob, job_id)
        job.error, job.updated_at = error[:1000], utcnow()


@shared_task
def backfill_store(store_id: int, since: str | None = None) -> dict[str, Any]:
    """Import a Shopify store's history on the bulk queue; a transient failure is retried by
    the task policy (``app.jobs.TagwiseTask``) and the next run resumes where it stopped."""
    start = datetime.fromisoformat(since) if since else None
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return run_backfill(store_id, start)
