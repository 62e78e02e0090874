"""The open data dumps on an S3-compatible bucket (moto's server): built into the bucket, the
county's and a township's, answered with ETag and 304, and a Range by a ranged GET of the
object (the bucket sends only the bytes asked for, not the object from its start)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from portal.domain.disclosure import dumps
from portal.storage import S3Storage
from tests.public.test_disclosures import disclosed, moderator
from tests.storage.conftest import BUCKET, raw_client


@pytest.fixture
def on_bucket(app: Flask, bucket_store: S3Storage,
              monkeypatch: pytest.MonkeyPatch) -> S3Storage:
    monkeypatch.setitem(app.extensions, "portal.storage", bucket_store)
    return bucket_store


def build(runner) -> str:
    result = runner.invoke(args=["opendata", "build", "--base-url", "http://localhost"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("url", ["/disclosures.csv", "/t/beishe/disclosures.csv"])
def test_a_dump_in_the_bucket_answers_etag_and_range_by_a_ranged_get(
        client, runner, db_session: Session, on_bucket: S3Storage, s3_endpoint: str,
        monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    mod = moderator(db_session)
    disclosed(db_session, "桶里北社商店", actor=mod, village_code="BS-V02")
    disclosed(db_session, "桶里阳高商店", actor=mod)
    build(runner)
    folder = "opendata/beishe/" if url.startswith("/t/") else "opendata/"
    key = f"{on_bucket.prefix}{folder}{dumps.CSV_NAME}"
    stored = raw_client(s3_endpoint).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    whole = client.get(url)
    body, etag = whole.get_data(), whole.headers["ETag"]
    assert body == stored and whole.headers["Accept-Ranges"] == "bytes"
    assert ("桶里阳高商店" in body.decode("utf-8-sig")) == (folder == "opendata/")
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304

    asked: list[dict[str, Any]] = []
    real = on_bucket.client.get_object

    def spy(**kwargs: Any) -> Any:
        asked.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(on_bucket.client, "get_object", spy)
    part = client.get(url, headers={"Range": "bytes=7-30"})
    assert part.status_code == 206 and part.get_data() == body[7:31]
    assert part.headers["Content-Range"] == f"bytes 7-30/{len(body)}"
    assert [a.get("Range") for a in asked if a["Key"] == key] == ["bytes=7-30"], \
        "the bucket was asked for the range, not the object from its start"
    head = client.head(url)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(body))
    assert [a.get("Range") for a in asked if a["Key"] == key] == ["bytes=7-30"], \
        "a HEAD reads no object"
    assert client.get(url, headers={"Range": f"bytes={len(body) + 1}-"}).status_code == 416
    stale = client.get(url, headers={"Range": "bytes=0-3", "If-Range": '"not-this-one"'})
    assert stale.status_code == 200 and stale.get_data() == body, "If-Range: the whole file"
