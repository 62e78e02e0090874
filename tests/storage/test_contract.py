"""One behavioural suite for every upload store: the directory and the S3-compatible bucket
answer the same calls the same way, so the domain cannot tell them apart."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from portal.storage import (
    TEMP_PREFIX,
    DirectoryStorage,
    S3Storage,
    Storage,
    StoreUnavailable,
    entries,
    parse_store_url,
)
from tests.storage.conftest import BUCKET, free_port, raw_client, s3_store

JPEG = "a" * 32 + ".jpg"
PNG = "b" * 32 + ".png"
PDF = "c" * 32 + ".pdf"


@pytest.fixture(params=["directory", "bucket"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "directory":
        return DirectoryStorage(tmp_path / "uploads")
    return request.getfixturevalue("bucket_store")


def test_a_put_file_reads_back_and_is_listed(store: Storage) -> None:
    assert store.names() == [] and not store.exists(JPEG)
    store.put(PNG, b"\x89PNG second")
    store.put(JPEG, b"\xff\xd8 first")
    assert store.get(JPEG) == b"\xff\xd8 first"
    assert store.exists(JPEG) and store.exists(PNG)
    assert store.names() == sorted([JPEG, PNG])
    store.put(JPEG, b"\xff\xd8 replaced")
    assert store.get(JPEG) == b"\xff\xd8 replaced"
    assert store.names() == sorted([JPEG, PNG])


def test_delete_removes_and_a_missing_file_is_file_not_found(store: Storage) -> None:
    store.put(PDF, b"%PDF-1.7")
    store.delete(PDF)
    assert not store.exists(PDF) and store.names() == []
    store.delete(PDF)  # deleting what is gone is not an error
    with pytest.raises(FileNotFoundError):
        store.get(PDF)
    with pytest.raises(FileNotFoundError):
        store.modified(PDF)


@pytest.mark.parametrize("name", ["../escape.jpg", "short.jpg", "a" * 32 + ".exe",
                                  "sub/" + "a" * 32 + ".jpg", ".upload-" + "a" * 20])
def test_only_stored_names_are_accepted(store: Storage, name: str) -> None:
    with pytest.raises(ValueError):
        store.put(name, b"x")
    with pytest.raises(ValueError):
        store.get(name)


def test_modified_is_the_time_of_the_last_write(store: Storage) -> None:
    before = time.time()
    store.put(JPEG, b"\xff\xd8")
    # S3's LastModified has whole seconds.
    assert before - 2 <= store.modified(JPEG) <= time.time() + 2
    assert dict(entries(store)) == {JPEG: store.modified(JPEG)}


def test_sweep_removes_only_stale_unfinished_writes(store: Storage) -> None:
    store.put(JPEG, b"\xff\xd8")
    unfinished = _leave_an_unfinished_write(store)
    if isinstance(store, DirectoryStorage):  # moto dates every multipart upload 2010
        assert store.sweep_temporaries(time.time() - 3600) == 0, "a recent write may finish"
    assert store.sweep_temporaries(time.time() + 60) == 1
    assert store.sweep_temporaries(time.time() + 60) == 0
    assert store.get(JPEG) == b"\xff\xd8" and store.names() == [JPEG]
    assert not unfinished()


def _leave_an_unfinished_write(store: Storage):
    """A write whose worker died: a temporary file, or a multipart upload never completed.
    Returns a check of whether it is still there."""
    if isinstance(store, DirectoryStorage):
        path = store.root / f"{TEMP_PREFIX}killed"
        path.write_bytes(b"half")
        return path.exists
    assert isinstance(store, S3Storage)
    client = store.client
    client.create_multipart_upload(Bucket=store.bucket, Key=store.prefix + PNG)
    return lambda: bool(client.list_multipart_uploads(
        Bucket=store.bucket, Prefix=store.prefix).get("Uploads"))


# ------------------------------------------------------------ the bucket's own


def test_each_prefix_is_a_store_of_its_own(s3_endpoint: str, s3_prefix: str) -> None:
    one = s3_store(s3_endpoint, s3_prefix + "one/")
    other = s3_store(s3_endpoint, s3_prefix + "one-more/")
    parent = s3_store(s3_endpoint, s3_prefix)
    one.put(JPEG, b"one")
    other.put(JPEG, b"other")
    other.put(PNG, b"other png")
    raw_client(s3_endpoint).put_object(Bucket=BUCKET, Key=s3_prefix + "one/notes.txt", Body=b"")
    assert one.names() == [JPEG] and one.get(JPEG) == b"one"
    assert other.names() == sorted([JPEG, PNG])
    assert parent.names() == [], "keys under a deeper prefix are not the parent's"
    one.delete(JPEG)
    assert other.get(JPEG) == b"other"


def test_listing_pages_through_more_than_one_answer(bucket_store: S3Storage) -> None:
    names = [f"{n:032d}.jpg" for n in range(1005)]  # the server answers 1000 keys a page
    client = bucket_store.client
    for name in names:
        client.put_object(Bucket=bucket_store.bucket, Key=bucket_store.prefix + name, Body=b"")
    assert bucket_store.names() == names


def test_objects_are_private_and_carry_their_checksum(s3_endpoint: str,
                                                      bucket_store: S3Storage) -> None:
    bucket_store.put(JPEG, b"\xff\xd8 private")
    client = raw_client(s3_endpoint)
    key = bucket_store.prefix + JPEG
    grants = client.get_object_acl(Bucket=BUCKET, Key=key)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]
    assert all(g["Grantee"].get("Type") == "CanonicalUser" for g in grants), "no public grant"
    head = client.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentType"] == "image/jpeg"
    info = bucket_store.stat(JPEG)
    assert info is not None and info.size == len(b"\xff\xd8 private")
    assert info.sha256 == hashlib.sha256(b"\xff\xd8 private").hexdigest()


def test_a_file_can_be_read_as_a_stream(bucket_store: S3Storage) -> None:
    data = os.urandom(200_000)
    bucket_store.put(JPEG, data)
    stored = bucket_store.open(JPEG)
    try:
        chunks = list(stored.chunks)
    finally:
        stored.close()
    assert stored.size == len(data) and b"".join(chunks) == data and len(chunks) > 1
    with pytest.raises(FileNotFoundError):
        bucket_store.open(PNG)


def test_an_unreachable_store_is_an_os_error_not_a_missing_file(s3_endpoint: str) -> None:
    dead = s3_store(f"http://127.0.0.1:{free_port()}", "x/", connect_timeout=0.5,
                    max_attempts=1)
    for call in (lambda: dead.put(JPEG, b"x"), lambda: dead.get(JPEG), dead.names):
        with pytest.raises(StoreUnavailable) as caught:
            call()
        assert isinstance(caught.value, OSError)
    assert dead.problem() == "unreachable"
    no_bucket = S3Storage.from_url("s3://no-such-bucket/x", endpoint_url=s3_endpoint,
                                   region="us-east-1", access_key_id="testing",
                                   secret_access_key="testing-secret")
    with pytest.raises(StoreUnavailable):
        no_bucket.get(JPEG)
    assert no_bucket.problem() == "bucket missing"


@pytest.mark.parametrize("url, bucket, prefix", [
    ("s3://portal-uploads", "portal-uploads", ""),
    ("s3://portal-uploads/", "portal-uploads", ""),
    ("s3://portal-uploads/prod/photos/", "portal-uploads", "prod/photos/"),
])
def test_store_urls(url: str, bucket: str, prefix: str) -> None:
    assert parse_store_url(url) == (bucket, prefix)


@pytest.mark.parametrize("url", ["/var/lib/uploads", "s3://", "s3://UPPER/x", "s3://b/../x",
                                 "http://bucket/x", "s3://ok-bucket/a//b"])
def test_bad_store_urls(url: str) -> None:
    with pytest.raises(ValueError):
        parse_store_url(url)


def test_a_file_written_in_chunks_reads_back_whole_without_being_held(store: Storage) -> None:
    """A large export is written as it is produced (issue 19): the result equals the chunks
    joined, with its checksum, and neither store holds it in memory (the peak stays well
    below its size)."""
    import tracemalloc

    name = "d" * 32 + ".csv"
    chunk = b"x" * (256 * 1024)
    count = 192  # 48 MB
    tracemalloc.start()
    try:
        size = store.put_chunks(name, (chunk for _ in range(count)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == len(chunk) * count
    data = store.get(name)
    assert len(data) == size and data == chunk * count
    assert peak < size / 2, f"peak {peak} bytes for a {size}-byte file"
    if isinstance(store, S3Storage):
        info = store.stat(name)
        assert info is not None and info.sha256 == hashlib.sha256(data).hexdigest()


def test_a_failed_chunked_write_leaves_no_file(store: Storage) -> None:
    name = "e" * 32 + ".csv"

    def failing():
        yield b"first part"
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        store.put_chunks(name, failing())
    assert not store.exists(name) and store.names() == []
