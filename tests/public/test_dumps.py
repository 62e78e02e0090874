"""The open data dumps are files: built by `opendata build`, served with ETag and Range and no
database query, and a new disclosure shows after the next build (docs/open-data.md)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.db import database
from portal.domain.clock import local_today
from portal.domain.disclosure import dumps
from portal.web.files import storage
from tests.public.test_disclosures import disclosed, moderator


@pytest.fixture(autouse=True)
def no_dump_left(app: Flask) -> Iterator[None]:
    """Other tests read the per-request fallback: no dump outlives a test here."""
    with app.app_context():
        folder = storage().root / dumps.FOLDER  # type: ignore[attr-defined]
    shutil.rmtree(folder, ignore_errors=True)
    yield
    shutil.rmtree(folder, ignore_errors=True)


def build(runner, *extra: str) -> str:
    result = runner.invoke(args=["opendata", "build", "--base-url", "http://localhost", *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_dump_equals_the_per_request_answer(client, runner, db_session: Session) -> None:
    mod = moderator(db_session)
    disclosed(db_session, "导出一号", actor=mod)
    disclosed(db_session, "=CMD()商店", actor=mod, summary="电话13912345678")
    streamed = {u: client.get(u).get_data() for u in ("/disclosures.csv", "/disclosures.json")}
    build(runner)
    stored = {u: client.get(u) for u in streamed}
    assert all(r.headers.get("Accept-Ranges") == "bytes" for r in stored.values())
    assert stored["/disclosures.csv"].get_data() == streamed["/disclosures.csv"]
    new, old = (json.loads(b) for b in (stored["/disclosures.json"].get_data(),
                                        streamed["/disclosures.json"]))
    new.pop("generated_at"), old.pop("generated_at")
    assert new == old
    rows = list(csv.DictReader(io.StringIO(
        stored["/disclosures.csv"].get_data().decode("utf-8-sig"))))
    assert "'=CMD()商店" in [r["unit_name"] for r in rows], "formula-safe in the file"
    assert "139********" in rows[0]["summary"] + rows[1]["summary"], "masked in the file"
    assert "13912345678" not in stored["/disclosures.json"].get_data(as_text=True)


def test_etag_304_range_206_and_416(client, runner, db_session: Session) -> None:
    disclosed(db_session, "范围商店")
    build(runner)
    whole = client.get("/disclosures.csv")
    body, etag = whole.get_data(), whole.headers["ETag"]
    manifest = dumps.read_manifest(storage_of(client))
    assert manifest is not None
    assert etag == f'"{manifest.files[dumps.CSV_NAME].sha256}"', "strong ETag: the SHA-256"
    assert int(whole.headers["Content-Length"]) == len(body) and whole.headers["Last-Modified"]
    assert client.get("/disclosures.csv", headers={"If-None-Match": etag}).status_code == 304
    part = client.get("/disclosures.csv", headers={"Range": "bytes=3-12"})
    assert part.status_code == 206 and part.get_data() == body[3:13]
    assert part.headers["Content-Range"] == f"bytes 3-12/{len(body)}"
    beyond = client.get("/disclosures.csv", headers={"Range": f"bytes={len(body) + 5}-"})
    assert beyond.status_code == 416


def storage_of(client):
    with client.application.app_context():
        return storage()


def test_a_new_disclosure_shows_after_the_next_build(client, runner, db_session: Session) -> None:
    mod = moderator(db_session)
    disclosed(db_session, "先前商店", actor=mod)
    build(runner)
    before = client.get("/disclosures.json")
    assert "已是最新" in build(runner, "--if-stale"), "nothing changed: nothing built"
    disclosed(db_session, "新公示商店", actor=mod)
    assert "新公示商店" not in client.get("/disclosures.json").get_data(as_text=True), \
        "served as built: the dump lags until the next build"
    with client.application.app_context():
        assert dumps.dump_is_stale(db_session, storage(), today=local_today())
    assert "sha256" in build(runner, "--if-stale")
    after = client.get("/disclosures.json")
    assert "新公示商店" in after.get_data(as_text=True)
    assert after.headers["ETag"] != before.headers["ETag"]


def test_a_served_dump_asks_the_database_nothing(app, client, runner,
                                                db_session: Session) -> None:
    disclosed(db_session, "无查询商店")
    build(runner)
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    engine = database(app).engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for url in ("/disclosures.csv", "/disclosures.json"):
            assert client.get(url).status_code == 200
            assert client.get(url, headers={"Range": "bytes=0-9"}).status_code == 206
    finally:
        event.remove(engine, "before_cursor_execute", count)
    ours = [s for s in seen if "SAVEPOINT" not in s.upper()]
    assert ours == [], ours
