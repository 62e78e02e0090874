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
from portal.domain.administration import townships
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


def township_root(client, code: str):
    with client.application.app_context():
        return storage().root / dumps.FOLDER / code  # type: ignore[attr-defined]


def test_a_townships_dump_is_a_file_of_its_own_cases_rebuilt_when_they_change(
        client, runner, db_session: Session) -> None:
    mod = moderator(db_session)
    disclosed(db_session, "阳高小卖部", actor=mod)
    disclosed(db_session, "北社超市", actor=mod, village_code="BS-V02")
    url = "/t/beishe/disclosures.json"
    streamed = client.get(url)
    assert streamed.headers.get("Accept-Ranges") is None, "before the first build: as sent"
    build(runner)
    assert (township_root(client, "beishe") / dumps.JSON_NAME).is_file()
    stored = client.get(url)
    assert stored.headers.get("Accept-Ranges") == "bytes", "after a build: the stored file"
    new, old = (json.loads(r.get_data()) for r in (stored, streamed))
    new.pop("generated_at"), old.pop("generated_at")
    assert new == old and new["title"] == "平顺县北社乡（示例）火灾隐患公示"
    assert [r["unit_name"] for r in new["cases"]] == ["北社超市"]
    assert new["cases"][0]["url"].startswith("http://localhost/t/beishe/disclosures/unit/")
    assert "北社超市" not in client.get("/t/yanggao/disclosures.csv").get_data(as_text=True)

    disclosed(db_session, "北社新饭店", actor=mod, village_code="BS-V02")
    assert "北社新饭店" not in client.get(url).get_data(as_text=True), \
        "served as built: the township's dump lags until the next build"
    output = build(runner, "--if-stale")
    assert "阳高乡（yanggao）：开放数据文件已是最新" in output, "only what changed is rebuilt"
    assert "（beishe）：disclosures.json" in output
    after = client.get(url)
    assert "北社新饭店" in after.get_data(as_text=True)
    assert after.headers["ETag"] != stored.headers["ETag"]


def test_a_townships_dump_answers_etag_304_range_206_and_416(client, runner,
                                                           db_session: Session) -> None:
    disclosed(db_session, "北社范围商店", village_code="BS-V02")
    build(runner)
    url = "/t/beishe/disclosures.csv"
    whole = client.get(url)
    body, etag = whole.get_data(), whole.headers["ETag"]
    assert "北社范围商店" in body.decode("utf-8-sig")
    assert whole.headers["Content-Disposition"] == "attachment; filename=disclosures.csv"
    assert 'rel="license"' in whole.headers["Link"]
    assert whole.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    part = client.get(url, headers={"Range": "bytes=5-20"})
    assert part.status_code == 206 and part.get_data() == body[5:21]
    assert client.get(url, headers={"Range": f"bytes={len(body)}-"}).status_code == 416


def test_behind_nginx_the_app_answers_the_checks_and_hands_the_body_over(
        app, client, runner, db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    disclosed(db_session, "北社代发商店", village_code="BS-V02")
    build(runner)
    monkeypatch.setitem(app.config, "ACCEL_REDIRECT_PREFIX", "/_opendata/")
    manifest = dumps.read_manifest(storage_of(client), townships.by_code(db_session, "beishe"))
    assert manifest is not None
    entry = manifest.files[dumps.CSV_NAME]
    for url, folder in (("/t/beishe/disclosures.csv", "beishe/"), ("/disclosures.csv", "")):
        answer = client.get(url, headers={"Range": "bytes=0-9"})
        assert answer.status_code == 200 and answer.get_data() == b"", "nginx sends the body"
        assert answer.headers["X-Accel-Redirect"].startswith(f"/_opendata/{folder}")
        assert answer.headers["Content-Disposition"] == "attachment; filename=disclosures.csv"
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
    answer = client.get("/t/beishe/disclosures.csv")
    assert answer.headers["X-Accel-Redirect"] == f"/_opendata/beishe/{entry.sha256}-disclosures.csv"
    assert answer.headers["ETag"] == f'"{entry.sha256}"'
    served = township_root(client, "beishe") / f"{entry.sha256}-disclosures.csv"
    assert served.read_bytes() == (township_root(client, "beishe") / dumps.CSV_NAME).read_bytes()
    assert served.stat().st_mode & 0o044 == 0o044, "nginx's own user can read it"
    unchanged = client.get("/t/beishe/disclosures.csv",
                           headers={"If-None-Match": answer.headers["ETag"]})
    assert unchanged.status_code == 304 and "X-Accel-Redirect" not in unchanged.headers


def test_a_content_named_file_stays_until_the_build_after_next(client, runner,
                                                              db_session: Session) -> None:
    mod = moderator(db_session)
    names = []
    for shop in ("一号店", "二号店", "三号店"):
        disclosed(db_session, shop, actor=mod)
        build(runner)
        manifest = dumps.read_manifest(storage_of(client))
        assert manifest is not None
        names.append(dumps.served_name(manifest.files[dumps.CSV_NAME]))
    with client.application.app_context():
        root = storage().root / dumps.FOLDER  # type: ignore[attr-defined]
    assert not (root / names[0]).exists(), "two builds old: removed"
    assert (root / names[1]).exists() and (root / names[2]).exists()



def test_a_public_url_of_another_host_is_refused_with_a_clear_message(runner) -> None:
    result = runner.invoke(args=["opendata", "build", "--base-url", "https://elsewhere.example"])
    assert result.exit_code != 0
    assert "PORTAL_PUBLIC_HOSTS" in result.output and "生成失败" not in result.output
