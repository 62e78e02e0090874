"""Ledger exports above PORTAL_EXPORT_JOB_ROWS run as worker jobs: the button queues one, the
worker writes the file to the upload store, and "my exports" serves it to its creator only;
the download holds exactly the ledger's rows for the same filter.

Most tests lower the threshold so that a few hundred bulk-inserted cases take the path; one
exports 10,000 rows at the default threshold (a few seconds on SQLite)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from portal import storage as store_module
from portal.db import database
from portal.domain import jobs
from portal.domain.enums import JobStatus, Role
from portal.domain.models import Case, Job, Unit
from portal.domain.supervision import exports, ledger, tallies
from portal.web.files import storage
from tests import factories
from tests.admin.conftest import login, make_user
from tests.conftest import csrf_token


def test_the_upload_store_takes_export_files() -> None:
    """Export files live in the upload store beside photos (and go with uploads gc)."""
    assert store_module.check_name("export-1-abcdefghijklmnop.xlsx")
    assert store_module.check_name("export-2-abcdefghijklmnop.csv")


@pytest.fixture
def threshold(app: Flask, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setitem(app.config, "EXPORT_JOB_ROWS", 50)
    return 50


def bulk_cases(session: Session, n: int) -> None:
    """``n`` triage cases in two bulk inserts (the workflow would take minutes for 10,000),
    then the running counts recounted, as bench/seed.py does."""
    village = factories.village(session)
    category = factories.category(session)
    at = dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)
    first = (session.scalar(select(Unit.id).order_by(Unit.id.desc()).limit(1)) or 0) + 1
    session.execute(insert(Unit), [
        {"id": first + k, "name": f"批量商店{k}", "normalized_name": f"批量商店{k}",
         "village_id": village.id, "address": f"{k} 号", "created_at": at}
        for k in range(n)])
    session.execute(insert(Case), [
        {"unit_id": first + k, "village_id": village.id, "category_id": category.id,
         "channel": "web", "severity": "general", "status": "triage", "internal_summary": "",
         "public_summary": "", "supervision_level": "none", "rectify_notice_no": "",
         "disclosed": False, "created_at": at + dt.timedelta(minutes=k),
         "updated_at": at, "version": 1}
        for k in range(n)])
    tallies.rebuild(session.connection())
    session.commit()


def run_worker(app: Flask) -> None:
    with app.app_context():
        while jobs.run_one(database(app).sessionmaker, storage(), "test-worker") is not None:
            pass


def queue_export(client: FlaskClient, fmt: str, query: dict[str, str]) -> Any:
    token = csrf_token(client, f"/admin/ledger?{urlencode(query)}")
    return client.post(f"/admin/ledger/export?{urlencode(query)}",
                       data={"csrf_token": token, "format": fmt})


def expected_rows(session: Session, job: Job) -> Iterator[tuple[Any, ...]]:
    params = job.params
    return ledger.export_rows(session, ledger.LedgerFilter.from_args(params["filter"]),
                              dt.datetime.fromisoformat(params["now"]), params["tz"])


def _as_read_back(value: Any) -> Any:
    """A value as openpyxl reads it back: dates are datetimes, times have no zone, no text
    is empty."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return None if value == "" else value


def download_button(job: Job) -> str:
    return f'name="job" value="{job.id}"'


def download(client: FlaskClient, job_id: int) -> Any:
    token = csrf_token(client, "/admin/exports")
    return client.post("/admin/exports/download", data={"csrf_token": token, "job": job_id})


def export_and_download(client: FlaskClient, app: Flask, db_session: Session, fmt: str,
                        query: dict[str, str]) -> tuple[Job, bytes]:
    queued = queue_export(client, fmt, query)
    assert queued.status_code == 303 and queued.location.endswith("/admin/exports")
    job = db_session.scalars(select(Job).order_by(Job.id.desc()).limit(1)).one()
    assert job.status is JobStatus.QUEUED and job.params["format"] == fmt
    assert "排队中" in client.get("/admin/exports").get_data(as_text=True)
    run_worker(app)
    db_session.refresh(job)
    assert job.status is JobStatus.DONE, job.error
    assert download_button(job) in client.get("/admin/exports").get_data(as_text=True)
    response = download(client, job.id)
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    return job, response.get_data()


def test_a_large_csv_export_runs_as_a_job_and_matches_the_ledger(
        client: FlaskClient, app: Flask, db_session: Session, as_role, threshold: int) -> None:
    bulk_cases(db_session, 200)
    as_role("supervisor")
    job, body = export_and_download(client, app, db_session, "csv",
                                    {"status": "triage", "sort": "created", "dir": "asc"})
    want = b"".join(exports.csv_chunks(ledger.EXPORT_HEADERS, expected_rows(db_session, job)))
    assert body == want
    assert job.result is not None and job.result["rows"] >= 200
    assert job.result["file"].startswith(f"export-{job.id}-")


def test_a_large_xlsx_export_runs_as_a_job_and_matches_the_ledger(
        client: FlaskClient, app: Flask, db_session: Session, as_role, threshold: int) -> None:
    bulk_cases(db_session, 200)
    as_role("supervisor")
    job, body = export_and_download(client, app, db_session, "xlsx", {"status": "triage"})
    sheet = load_workbook(io.BytesIO(body), read_only=True)["隐患台账"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ledger.EXPORT_HEADERS
    assert rows[1:] == [tuple(_as_read_back(v) for v in row)
                        for row in expected_rows(db_session, job)]


def test_a_small_export_still_streams(client: FlaskClient, db_session: Session, as_role,
                                      threshold: int) -> None:
    bulk_cases(db_session, 10)
    as_role("supervisor")
    page = client.get("/admin/ledger?status=triage").get_data(as_text=True)
    assert "/admin/ledger.csv?status=triage" in page and "后台导出" not in page
    response = client.get("/admin/ledger.csv?status=triage")
    assert response.status_code == 200 and response.is_streamed
    # The button of a small export just sends the browser to the stream.
    queued = queue_export(client, "xlsx", {"status": "triage"})
    assert queued.status_code == 303 and "/admin/ledger.xlsx" in queued.location
    assert db_session.scalar(select(Job.id)) is None


def test_a_large_export_is_not_streamed_and_the_page_offers_the_background_one(
        client: FlaskClient, db_session: Session, as_role, threshold: int) -> None:
    bulk_cases(db_session, 60)
    as_role("supervisor")
    page = client.get("/admin/ledger?status=triage").get_data(as_text=True)
    assert "后台导出" in page and 'action="/admin/ledger/export?status=triage"' in page
    refused = client.get("/admin/ledger.xlsx?status=triage")
    assert refused.status_code == 303 and "/admin/ledger?status=triage" in refused.location


def test_queueing_and_downloading_need_the_csrf_token(
        client: FlaskClient, app: Flask, db_session: Session, as_role, threshold: int) -> None:
    bulk_cases(db_session, 60)
    as_role("supervisor")
    assert client.post("/admin/ledger/export?status=triage",
                       data={"format": "csv"}).status_code == 400
    job, _ = export_and_download(client, app, db_session, "csv", {"status": "triage"})
    assert client.post("/admin/exports/download", data={"job": job.id}).status_code == 400
    assert db_session.scalar(select(Job.id)) == job.id


def test_only_the_creator_and_admins_may_download(
        client: FlaskClient, app: Flask, db_session: Session, as_role, threshold: int) -> None:
    bulk_cases(db_session, 60)
    as_role("supervisor")
    job, _ = export_and_download(client, app, db_session, "csv", {"status": "triage"})
    make_user(db_session, "sup2", Role.SUPERVISOR)
    other = app.test_client()
    assert login(other, "sup2").status_code == 302
    assert download(other, job.id).status_code == 404
    assert download_button(job) not in other.get("/admin/exports").get_data(as_text=True)
    assert download(other, 999999).status_code == 404
    admin = app.test_client()
    assert login(admin, "admin1").status_code == 302
    assert download(admin, job.id).status_code == 200
    officer = app.test_client()
    assert login(officer, "fire1").status_code == 302
    assert officer.get("/admin/exports").status_code == 403


def test_a_failed_export_says_why(client: FlaskClient, app: Flask, db_session: Session,
                                  as_role, threshold: int, monkeypatch) -> None:
    bulk_cases(db_session, 60)
    as_role("supervisor")
    queue_export(client, "csv", {"status": "triage"})
    job = db_session.scalars(select(Job)).one()
    job.max_attempts = 1
    db_session.commit()

    def broken(*_: Any) -> Any:
        raise OSError("磁盘已满")

    monkeypatch.setitem(jobs.HANDLERS, jobs.LEDGER_EXPORT, broken)
    worked = app.test_cli_runner().invoke(args=["jobs", "work", "--once"])
    assert worked.exit_code == 0, worked.output
    assert f"任务 {job.id} 已处理" in worked.output
    listed = app.test_cli_runner().invoke(args=["jobs", "list"])
    assert f"{job.id}\tledger.export\t失败\t1/1" in listed.output
    assert "磁盘已满" in listed.output
    page = client.get("/admin/exports").get_data(as_text=True)
    assert "失败" in page and "磁盘已满" in page
    assert download(client, job.id).status_code == 404


def test_an_export_of_10k_rows_completes_as_a_job_and_matches_the_ledger(
        client: FlaskClient, app: Flask, db_session: Session, as_role) -> None:
    """At the default threshold (5,000)."""
    bulk_cases(db_session, 10_000)
    as_role("supervisor")
    job, body = export_and_download(client, app, db_session, "csv", {"status": "triage"})
    want = b"".join(exports.csv_chunks(ledger.EXPORT_HEADERS, expected_rows(db_session, job)))
    assert body == want
    assert job.result is not None and job.result["rows"] >= 10_000
