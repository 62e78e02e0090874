"""The background jobs: queued, claimed by one worker only, run, retried with back-off, failed
with the error, and taken again when their worker died."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import database
from portal.domain import jobs
from portal.domain.clock import utcnow
from portal.domain.enums import JobStatus
from portal.domain.models import Job
from tests.conftest import separate_database
from tests.domain.linkage_helpers import supervisor

CALLS: list[int] = []


class MemoryStore:
    """Enough of the upload store for handlers that write nothing."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def put(self, name: str, data: bytes) -> None:
        self.files[name] = data

    def put_chunks(self, name: str, chunks: Any) -> int:
        self.files[name] = b"".join(chunks)
        return len(self.files[name])

    def get(self, name: str) -> bytes:
        return self.files[name]

    def delete(self, name: str) -> None:
        self.files.pop(name, None)

    def exists(self, name: str) -> bool:
        return name in self.files

    def names(self) -> list[str]:
        return sorted(self.files)

    def modified(self, name: str) -> float:
        return 0.0

    def sweep_temporaries(self, cutoff: float) -> int:
        return 0


def _ok(session: Session, store: Any, job: Job) -> dict[str, Any]:
    CALLS.append(job.id)
    return {"echo": job.params["n"]}


def _boom(session: Session, store: Any, job: Job) -> dict[str, Any]:
    CALLS.append(job.id)
    raise RuntimeError(f"boom {job.attempts}")


@pytest.fixture(autouse=True)
def test_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(jobs.HANDLERS, "test.ok", _ok)
    monkeypatch.setitem(jobs.HANDLERS, "test.boom", _boom)
    CALLS.clear()


def _factory(app: Flask):
    return database(app).sessionmaker


def test_a_queued_job_is_run_once_and_keeps_its_result(app: Flask, db_session: Session) -> None:
    actor = supervisor(db_session)
    job = jobs.enqueue(db_session, "test.ok", {"n": 7}, actor)
    db_session.commit()
    assert job.status is JobStatus.QUEUED
    with app.app_context():
        assert jobs.run_one(_factory(app), MemoryStore(), "w1") == job.id
        assert jobs.run_one(_factory(app), MemoryStore(), "w1") is None
    db_session.refresh(job)
    assert (job.status, job.result, job.attempts, job.error) == (
        JobStatus.DONE, {"echo": 7}, 1, None)
    assert job.finished_at is not None and job.locked_by is None
    assert [job.id] == CALLS
    assert jobs.jobs_of(db_session, actor) == [job]


def test_an_unknown_kind_is_refused(app: Flask, db_session: Session) -> None:
    with pytest.raises(jobs.JobError):
        jobs.enqueue(db_session, "no.such", {}, None)


def test_a_failing_job_is_retried_with_back_off_then_failed_with_the_error(
        app: Flask, db_session: Session) -> None:
    job = jobs.enqueue(db_session, "test.boom", {}, None, max_attempts=2)
    db_session.commit()
    start = utcnow()
    with app.app_context():
        jobs.run_one(_factory(app), MemoryStore(), "w1", now=lambda: start)
        db_session.refresh(job)
        assert job.status is JobStatus.QUEUED and job.attempts == 1
        assert "boom 1" in (job.error or "")
        assert job.run_after == start + jobs.backoff(1)
        # Not due before its back-off has passed.
        assert jobs.run_one(_factory(app), MemoryStore(), "w1", now=lambda: start) is None
        later = job.run_after + dt.timedelta(seconds=1)
        assert jobs.run_one(_factory(app), MemoryStore(), "w1", now=lambda: later) == job.id
    db_session.refresh(job)
    assert job.status is JobStatus.FAILED and job.attempts == 2
    assert "RuntimeError: boom 2" in (job.error or "")
    assert job.finished_at is not None
    assert len(CALLS) == 2
    assert jobs.backoff(2) == 2 * jobs.backoff(1)


def test_a_job_whose_worker_died_is_taken_again_then_failed_when_out_of_attempts(
        app: Flask, db_session: Session) -> None:
    job = jobs.enqueue(db_session, "test.ok", {"n": 1}, None, max_attempts=2)
    now = utcnow()
    assert jobs.claim_next(db_session, "dead", now) is job
    assert (job.status, job.locked_by, job.attempts) == (JobStatus.RUNNING, "dead", 1)
    assert jobs.claim_next(db_session, "w2", now + dt.timedelta(minutes=1)) is None, \
        "a fresh lock is respected"
    stale = now + jobs.STALE_AFTER + dt.timedelta(seconds=1)
    again = jobs.claim_next(db_session, "w2", stale)
    assert again is not None and again.id == job.id
    db_session.refresh(job)
    assert (job.locked_by, job.attempts) == ("w2", 2)
    # w2 dies too: no attempt is left, so the job is failed rather than taken a third time.
    assert jobs.claim_next(db_session, "w3", stale + jobs.STALE_AFTER * 2) is None
    db_session.refresh(job)
    assert job.status is JobStatus.FAILED and "工作进程中断" in (job.error or "")


def test_a_worker_that_lost_its_lock_does_not_record_the_outcome(
        app: Flask, db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    job = jobs.enqueue(db_session, "test.ok", {"n": 1}, None)
    db_session.commit()

    def taken_over(session: Session, store: Any, running: Job) -> dict[str, Any]:
        running.locked_by = "other"  # another worker took the stale job meanwhile
        return {"echo": 0}

    monkeypatch.setitem(jobs.HANDLERS, "test.ok", taken_over)
    with app.app_context():
        jobs.run_one(_factory(app), MemoryStore(), "w1")
    db_session.refresh(job)
    assert (job.status, job.locked_by, job.result) == (JobStatus.RUNNING, "other", None)


def test_two_claimers_never_take_the_same_job(tmp_path: Path) -> None:
    """Two workers, each with its own connection: every job is taken exactly once. On
    PostgreSQL the first claim is still uncommitted when the second looks (SKIP LOCKED)."""
    with separate_database(tmp_path, "jobs_race") as app, app.app_context():
        factory = database(app).sessionmaker
        with factory() as setup:
            for n in range(3):
                jobs.enqueue(setup, "test.ok", {"n": n}, None)
            setup.commit()
        postgres = bool(os.environ.get("TEST_DATABASE_URL"))
        taken: list[int] = []
        with factory() as first, factory() as second:
            a = jobs.claim_next(first, "a")
            assert a is not None
            if not postgres:
                first.commit()  # SQLite serialises writers: the second waits for this
            b = jobs.claim_next(second, "b")
            assert b is not None and b.id != a.id
            taken += [a.id, b.id]
            first.commit()
            second.commit()
        with factory() as third:
            c = jobs.claim_next(third, "c")
            assert c is not None
            taken.append(c.id)
            third.commit()
            assert jobs.claim_next(third, "c") is None
            third.commit()
            assert sorted(taken) == sorted(third.scalars(select(Job.id)))
            assert {j.attempts for j in third.scalars(select(Job))} == {1}
