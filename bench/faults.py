"""Faults under load: submitters keep reporting while a gunicorn worker is SIGKILLed and, on
PostgreSQL, the database is restarted. Afterwards every receipt a client was given must find
its tip, no tip may exist twice, no upload may be orphaned once `uploads gc` has run (a killed
worker can leave a file whose row it never committed; gc must remove exactly those), no stored
photo may lose its file, no request may be answered 5xx, and no response may carry a stack
trace.

    python -m bench.faults --database-url URL [--seconds 20] [--clients 8] [--restart-db]

Prints: sent, acknowledged, found afterwards, duplicates, 5xx, stack traces, orphans, and how
many requests the app ran a second time because the database dropped out under the first.
Exits non-zero if any promise is broken. Only talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import bindparam, text

from bench.http import Client, Server, multipart
from portal.config import ROOT
from portal.db import make_engine

RECEIPT_RE = re.compile(r'class="receipt-code"[^>]*><span>([\d ]{19})</span>')
TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', "sqlalchemy.exc")


@dataclass
class Tally:
    sent: int = 0
    acknowledged: list[str] = field(default_factory=list)
    five_xx: int = 0
    traces: int = 0
    connection_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _small_photo() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(out, "JPEG")
    return out.getvalue()


def submitter(port: int, ids: dict, stop: float, tally: Tally, photo: bytes) -> None:
    client = Client(port)
    token = None
    while time.monotonic() < stop:
        try:
            if token is None:
                token = client.csrf("/report")
            key = secrets.token_urlsafe(16)
            fields = {"csrf_token": token, "submission_key": key,
                      "village": str(ids["villages"][0]), "category": str(ids["categories"][0]),
                      "unit_name": "故障演练店",
                      "description": "故障演练：疏散通道被堵塞，需要处理。",
                      "website": ""}
            files = {"photos": ("p.jpg", photo)} if secrets.randbelow(3) == 0 else {}
            body, content_type = multipart(fields, files)
            with tally.lock:
                tally.sent += 1
            status, data, _ = client.send("POST", "/report", body, content_type)
            _inspect(tally, status, data)
            if status != 200:
                token = None if status in (400, 422) else token
                continue
            # The POST answers with the confirmation page, which holds the receipt.
            match = RECEIPT_RE.search(data.decode(errors="replace"))
            if match:
                with tally.lock:
                    tally.acknowledged.append(match.group(1).replace(" ", ""))
        except OSError:
            with tally.lock:
                tally.connection_errors += 1
            client = Client(port)
            token = None
            time.sleep(0.1)


def _inspect(tally: Tally, status: int, data: bytes) -> None:
    body = data.decode(errors="replace")
    with tally.lock:
        if status >= 500:
            tally.five_xx += 1
        if any(marker in body for marker in TRACE_MARKERS):
            tally.traces += 1


def _restart_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, capture_output=True)


def run(args: argparse.Namespace) -> dict:
    tmp = Path(args.tmp or ROOT / "instance" / "faults-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    engine = make_engine(args.database_url)
    with engine.connect() as conn:
        ids = {"villages": list(conn.execute(text("SELECT id FROM villages WHERE active"))
                                .scalars()),
               "categories": list(conn.execute(text("SELECT id FROM categories WHERE active"))
                                  .scalars())}
        before = set(conn.execute(text("SELECT id FROM tips")).scalars())
    engine.dispose()
    server = Server(args.database_url, tmp)
    server.start()
    tally = Tally()
    photo = _small_photo()
    stop = time.monotonic() + args.seconds
    threads = [threading.Thread(target=submitter, args=(server.port, ids, stop, tally, photo))
               for _ in range(args.clients)]
    for t in threads:
        t.start()
    events = []
    try:
        time.sleep(args.seconds * 0.3)
        workers = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server.process.pid)],
                                 capture_output=True, text=True).stdout.split()
        if workers:
            os.kill(int(workers[0]), signal.SIGKILL)
            events.append(f"SIGKILL worker {workers[0]}")
        if args.restart_db and engine.dialect.name == "postgresql":
            time.sleep(args.seconds * 0.2)
            _restart_postgres()
            events.append("PostgreSQL restarted")
        for t in threads:
            t.join()
    finally:
        server.stop()

    engine = make_engine(args.database_url)
    from portal.domain.reporting.identity import receipt_hash

    with engine.connect() as conn:
        hashes = [receipt_hash(server.env["PORTAL_RECEIPT_KEY"], code)
                  for code in tally.acknowledged]
        found = 0
        for i in range(0, len(hashes), 500):
            found += conn.execute(
                text("SELECT count(*) FROM tips WHERE receipt_hash IN :h").bindparams(
                    bindparam("h", expanding=True)),
                {"h": hashes[i:i + 500]}).scalar()
        duplicates = conn.execute(text(
            "SELECT count(*) FROM (SELECT submission_key FROM tips WHERE submission_key IS NOT "
            "NULL GROUP BY submission_key HAVING count(*) > 1) d")).scalar()
        new_tips = set(conn.execute(text("SELECT id FROM tips")).scalars()) - before
        photos = [(tip_id, stored, thumb) for tip_id, stored, thumb in conn.execute(text(
            "SELECT tip_id, stored_name, thumbnail_name FROM attachments"))]
    names = {n for _tip, stored, thumb in photos for n in (stored, thumb) if n}
    upload_dir = tmp / "uploads"

    def stored_files() -> set[str]:
        return ({p.name for p in upload_dir.iterdir() if not p.name.startswith(".")}
                if upload_dir.exists() else set())

    # A worker killed between writing a photo and committing its row, or a commit whose
    # outcome the connection took with it, leaves a file no row names: `uploads gc` is the
    # designed remedy (here without its grace period). It must leave every stored photo.
    left_by_crashes = len(stored_files() - names)
    server.flask("uploads", "gc", "--grace-hours", "0")
    files = stored_files()
    orphans = len(files - names)
    missing = sum(1 for tip, stored, thumb in photos if tip in new_tips
                  for n in (stored, thumb) if n and n not in files)
    log = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
    result = {
        "events": events, "sent": tally.sent, "acknowledged": len(tally.acknowledged),
        "found": found, "duplicates": duplicates, "five_xx": tally.five_xx,
        "stack_traces": tally.traces, "connection_errors": tally.connection_errors,
        "orphan_uploads": orphans, "left_by_crashes": left_by_crashes,
        "missing_files": missing, "new_tips": len(new_tips),
        # Requests the database dropped out under, answered by their second run.
        "retried": log.count("running the request again"),
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--restart-db", action="store_true")
    parser.add_argument("--tmp", default="")
    args = parser.parse_args(argv)
    result = run(args)
    print("faults: " + "; ".join(result["events"]))
    print("  sent {sent}, acknowledged {acknowledged}, found afterwards {found}, "
          "duplicates {duplicates}, 5xx {five_xx}, stack traces {stack_traces}, "
          "orphan uploads {orphan_uploads} (files left by the crash before `uploads gc` "
          "{left_by_crashes}), stored photos missing their file {missing_files}, "
          "connection errors {connection_errors}, "
          "requests run again after a database error {retried}".format(**result))
    ok = (result["found"] == result["acknowledged"] and result["duplicates"] == 0
          and result["stack_traces"] == 0 and result["orphan_uploads"] == 0
          and result["missing_files"] == 0 and result["five_xx"] == 0)
    print("  PASS" if ok else "  FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
