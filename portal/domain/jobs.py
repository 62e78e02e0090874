"""Background jobs: long work queued in the database and run by the worker (issue 19).

A view calls ``enqueue`` and commits; ``flask --app wsgi jobs work`` (a systemd service,
deploy/portal-worker.service, or cron with ``--once``) calls ``run_one`` in a loop. No new
infrastructure: the queue is the ``jobs`` table.

- **Claiming** is safe with several workers: on PostgreSQL the next due row is selected
  ``FOR UPDATE SKIP LOCKED`` (a second worker skips it instead of waiting); on SQLite, whose
  writers are serialised anyway, a conditional UPDATE that still expects the status and lock
  it read tells the loser by its rowcount, and the loser tries the next row.
- **Three short transactions** per job: claim (commit, so the others see it), run the
  handler (reads; a long export does not hold SQLite's write lock), record the outcome.
- **Retries**: a handler that raises puts the job back with ``run_after`` pushed out
  (``BACKOFF_SECONDS`` × 2^(attempt−1)) until ``max_attempts``, then it is failed with the
  error. A job left ``running`` by a worker that died (its lock older than
  ``STALE_AFTER``) is taken again as its next attempt, or failed if it has none left. A
  worker only records the outcome of a job it still holds.

Handlers are registered by kind with ``@handler("ledger.export")``; each gets a session, the
upload store and the job, and returns the job's ``result`` (plain JSON).
"""

from __future__ import annotations

import datetime as dt
import secrets
import traceback
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.enums import JobStatus, Role
from portal.domain.models import Job, User
from portal.domain.supervision import exports, ledger
from portal.storage import Storage

Handler = Callable[[Session, Storage, Job], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}

DEFAULT_MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 30
# A running job whose worker has not finished it in this long is taken to be abandoned (the
# worker died); long enough for the largest export.
STALE_AFTER = dt.timedelta(minutes=30)
CANDIDATES = 5
ERROR_CHARS = 4000


class JobError(Exception):
    """A job cannot be queued as asked (an unknown kind)."""


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of ``kind``."""
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn
    return register


def enqueue(session: Session, kind: str, params: dict[str, Any], actor: User | None, *,
            max_attempts: int = DEFAULT_MAX_ATTEMPTS, now: dt.datetime | None = None) -> Job:
    """Queue a job (flushed; the caller commits)."""
    if kind not in HANDLERS:
        raise JobError(f"未知的后台任务类型：{kind}")
    job = Job(kind=kind, params=params, status=JobStatus.QUEUED, attempts=0,
              max_attempts=max_attempts, run_after=now or utcnow(),
              created_by_id=actor.id if actor else None, created_at=now or utcnow())
    session.add(job)
    session.flush()
    return job


def _due(now: dt.datetime) -> Any:
    return or_(
        and_(Job.status == JobStatus.QUEUED, Job.run_after <= now),
        and_(Job.status == JobStatus.RUNNING, Job.locked_at < now - STALE_AFTER),
    )


def _fail_abandoned(session: Session, now: dt.datetime) -> None:
    """Jobs whose worker died on their last attempt: failed, with the reason."""
    session.execute(
        update(Job)
        .where(Job.status == JobStatus.RUNNING, Job.locked_at < now - STALE_AFTER,
               Job.attempts >= Job.max_attempts)
        .values(status=JobStatus.FAILED, finished_at=now, locked_by=None,
                error="工作进程中断，且已无重试次数")
        .execution_options(synchronize_session=False))


def claim_next(session: Session, worker_id: str, now: dt.datetime | None = None) -> Job | None:
    """Take the next due job for ``worker_id`` (flushed; the caller commits at once so that
    the other workers see it): the oldest queued job whose time has come, or one abandoned by
    a dead worker. None when there is nothing to do."""
    now = now or utcnow()
    _fail_abandoned(session, now)
    order = (Job.run_after, Job.id)
    if session.get_bind().dialect.name == "postgresql":
        found = session.scalars(
            select(Job).where(_due(now)).order_by(*order).limit(1)
            .with_for_update(skip_locked=True)).first()
        if found is None:
            return None
        found.status = JobStatus.RUNNING
        found.locked_by = worker_id
        found.locked_at = now
        found.attempts += 1
        session.flush()
        return found
    seen = session.execute(
        select(Job.id, Job.status, Job.locked_at).where(_due(now)).order_by(*order)
        .limit(CANDIDATES)).all()
    for job_id, status, locked_at in seen:
        taken = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == status,
                   Job.locked_at.is_(None) if locked_at is None else Job.locked_at == locked_at)
            .values(status=JobStatus.RUNNING, locked_by=worker_id, locked_at=now,
                    attempts=Job.attempts + 1)
            .execution_options(synchronize_session=False))
        if getattr(taken, "rowcount", 0) == 1:
            job = session.get(Job, job_id, populate_existing=True)
            return job
    return None


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=BACKOFF_SECONDS * 2 ** max(attempts - 1, 0))


def run_one(session_factory: Callable[[], Session], store: Storage, worker_id: str,
            now: Callable[[], dt.datetime] = utcnow,
            work_session_factory: Callable[[], Session] | None = None) -> int | None:
    """Claim one due job and run it; the id of the job run, or None if none was due. The
    handler runs in a session of ``work_session_factory`` (default ``session_factory``):
    on SQLite the claim and the outcome want the write lock at BEGIN, the long read of an
    export does not."""
    with session_factory() as session:
        job = claim_next(session, worker_id, now())
        if job is None:
            session.commit()
            return None
        job_id, kind = job.id, job.kind
        session.commit()

    outcome: dict[str, Any] | None = None
    error: str | None = None
    retry = True
    with (work_session_factory or session_factory)() as session:
        try:
            job = session.get(Job, job_id)
            assert job is not None
            if kind not in HANDLERS:
                error, retry = f"未知的后台任务类型：{kind}", False
            else:
                outcome = HANDLERS[kind](session, store, job)
                session.commit()
        except Exception as exc:  # any failure of the work is the job's
            session.rollback()
            error = "".join(traceback.format_exception_only(exc)).strip()[:ERROR_CHARS]

    with session_factory() as session:
        job = session.get(Job, job_id)
        if job is None or job.status != JobStatus.RUNNING or job.locked_by != worker_id:
            session.commit()
            return job_id  # taken over meanwhile (our lock went stale); theirs to record
        at = now()
        job.locked_by, job.locked_at = None, None
        if error is None:
            job.status, job.result, job.error, job.finished_at = (
                JobStatus.DONE, outcome, None, at)
        elif retry and job.attempts < job.max_attempts:
            job.status, job.error, job.run_after = (
                JobStatus.QUEUED, error, at + backoff(job.attempts))
        else:
            job.status, job.error, job.finished_at = JobStatus.FAILED, error, at
        session.commit()
    return job_id


def jobs_of(session: Session, user: User, limit: int = 50) -> list[Job]:
    """The user's newest jobs, for their "my exports" page."""
    return list(session.scalars(
        select(Job).where(Job.created_by_id == user.id)
        .order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)))


def recent_jobs(session: Session, limit: int = 50) -> list[Job]:
    """Every user's newest jobs, for ``jobs list``."""
    return list(session.scalars(
        select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)))


def may_download(job: Job, user: User) -> bool:
    """Only the job's creator (and admins) may fetch what it produced."""
    return job.created_by_id == user.id or user.role is Role.ADMIN


def stored_name(job: Job, ext: str) -> str:
    """A stored file name for a job's output: its id and a random token, so that the names
    cannot be guessed."""
    return f"export-{job.id}-{secrets.token_urlsafe(12)}.{ext}"


# The ledger's export as a job (issue 19): above ``PORTAL_EXPORT_JOB_ROWS`` rows the ledger
# queues this instead of streaming, which a sync web worker would kill at its timeout.
LEDGER_EXPORT = "ledger.export"
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def ledger_export_params(f: ledger.LedgerFilter, fmt: str, now: dt.datetime, tz: str,
                         filename: str) -> dict[str, Any]:
    """What a ledger export job needs: the filter as its query string, the moment it was
    asked for (so the overdue column is that of the click, as a streamed export's is)."""
    if fmt not in EXPORT_TYPES:
        raise JobError(f"未知的导出格式：{fmt}")
    return {"filter": f.to_args(), "format": fmt, "now": now.isoformat(), "tz": tz,
            "filename": filename}


@handler(LEDGER_EXPORT)
def export_ledger(session: Session, store: Storage, job: Job) -> dict[str, Any]:
    """Write the filtered ledger to the upload store. Rows are fetched in batches and the
    file is written as it is produced (``Storage.put_chunks``), so memory holds neither the
    rows nor the file."""
    params = job.params
    f = ledger.LedgerFilter.from_args(params["filter"])
    count = 0

    def counted() -> Any:
        nonlocal count
        for row in ledger.export_rows(session, f, dt.datetime.fromisoformat(params["now"]),
                                      params["tz"]):
            count += 1
            yield row

    fmt = params["format"]
    chunks = (exports.xlsx_chunks(ledger.EXPORT_HEADERS, counted(), "隐患台账") if fmt == "xlsx"
              else exports.csv_chunks(ledger.EXPORT_HEADERS, counted()))
    name = stored_name(job, fmt)
    store.put_chunks(name, chunks)
    return {"file": name, "rows": count, "format": fmt, "filename": params["filename"]}
