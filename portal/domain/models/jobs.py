"""Background jobs: long work (a large export) queued in the database and run by the worker
(``flask --app wsgi jobs work``, portal/domain/jobs.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.clock import utcnow
from portal.domain.enums import JobStatus
from portal.domain.models._types import enum_column
from portal.domain.models.base import Base


class Job(Base):
    """One piece of work: what to do (``kind`` names a handler, ``params`` its arguments),
    where it stands, and what came of it (``result``: the stored file and row count of an
    export; ``error``: the last failure). A queued job whose ``run_after`` has come is taken
    by one worker, which stamps ``locked_by``/``locked_at``; a failure puts it back with a
    later ``run_after`` until ``max_attempts`` is reached."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index(None, "status", "run_after"),
        CheckConstraint("status <> 'running' OR locked_at IS NOT NULL", name="running_locked"),
        CheckConstraint("status NOT IN ('done', 'failed') OR finished_at IS NOT NULL",
                        name="finished_stamped"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[JobStatus] = mapped_column(enum_column(JobStatus, "job_status"),
                                              default=JobStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    run_after: Mapped[dt.datetime] = mapped_column(default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(128))
    locked_at: Mapped[dt.datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
