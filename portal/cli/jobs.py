"""The background worker: ``flask --app wsgi jobs work [--once] [--poll SECONDS]`` (run as a
service, deploy/portal-worker.service, or from cron with ``--once``) and ``jobs list``."""

from __future__ import annotations

import os
import signal
import socket
import time
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from portal.db import WRITE_OPTION, database, get_session
from portal.domain import jobs
from portal.templating import format_datetime
from portal.web.files import storage

jobs_cli = AppGroup("jobs", help="Background jobs (large exports).")


def _session() -> Session:
    # The claim and the outcome are short writes: on SQLite they take the lock at BEGIN, so
    # a claim waits for another writer instead of failing half-way. The handler's long
    # read gets a plain session (``work_session_factory``).
    session = database().sessionmaker()
    if session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={WRITE_OPTION: True})
    return session


@jobs_cli.command("work")
@click.option("--once", is_flag=True, help="Run the jobs due now, then exit (for cron).")
@click.option("--poll", type=float, default=5.0, show_default=True,
              help="Seconds to wait when no job is due.")
def jobs_work(once: bool, poll: float) -> None:
    """Run queued jobs until stopped (SIGTERM lets the current job finish first)."""
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    stopping: list[bool] = []

    def stop(*_: Any) -> None:
        stopping.append(True)

    previous = signal.signal(signal.SIGTERM, stop)
    store = storage()
    ran = 0
    click.echo(f"后台任务进程 {worker_id} 已启动")
    try:
        while not stopping:
            job_id = jobs.run_one(_session, store, worker_id,
                                  work_session_factory=database().sessionmaker)
            if job_id is not None:
                ran += 1
                click.echo(f"任务 {job_id} 已处理")
                continue
            if once:
                break
            time.sleep(poll)
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo(f"共处理任务 {ran} 个")


@jobs_cli.command("list")
@click.option("--limit", type=int, default=50, show_default=True)
def jobs_list(limit: int) -> None:
    """The newest jobs: status, attempts and the last error."""
    for job in jobs.recent_jobs(get_session(), limit):
        line = (f"{job.id}\t{job.kind}\t{job.status.label}\t{job.attempts}/{job.max_attempts}"
                f"\t{format_datetime(job.created_at)}")
        if job.error:
            line += f"\t{job.error.splitlines()[-1][:200]}"
        click.echo(line)


def register(app: Flask) -> None:
    app.cli.add_command(jobs_cli)
