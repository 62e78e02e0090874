"""Faults under load: submitters keep reporting (one form in eight has its first answer thrown
away and is sent again, as a phone whose confirmation never arrived) while a fault strikes:

- ``kill``: a gunicorn worker is SIGKILLed and, with ``--restart-db`` on PostgreSQL, the
  database is restarted;
- ``redis-down``: the rate-limit storage is unreachable from the start;
- ``redis-killed``: a private Redis serving the limits is SIGKILLed under load;
- ``disk-full``: the upload directory is a 512 KB disk (tmpfs; needs root) and every report
  carries a photo; a form refused for its photo is sent again without it;
- ``db-hang`` (PostgreSQL): another connection locks ``tips`` for longer than the worker
  timeout;
- ``sigterm``: gunicorn is told to stop while requests are in flight.

Afterwards every receipt a client was given must find its tip, every form sent again must
have been shown its receipt, no tip may exist twice, no upload may be orphaned once
`uploads gc` has run (a killed worker can leave a file whose row it never committed; gc must
remove exactly those), no stored photo may lose its file, no request may be answered 5xx
(but the designed Chinese 503 page of a hung database), no request sent before a SIGTERM
may go unanswered, no worker may hit gunicorn's timeout, and no response may carry a stack
trace.

    python -m bench.faults --database-url URL [--seconds 20] [--clients 8] [--restart-db]
                           [--scenario NAME ...|--scenario all]

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
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import bindparam, text

from bench.http import Client, Server, multipart, request
from portal.config import ROOT
from portal.db import make_engine

RECEIPT_RE = re.compile(r'class="receipt-code"[^>]*><span>([\d ]{19})</span>')
TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', "sqlalchemy.exc")


PHOTO_FULL = "照片暂时无法保存"  # the report form's message when the upload disk is full
DESIGNED_503 = "服务暂不可用"  # the Chinese 503 page (with Retry-After), e.g. a hung database


@dataclass
class Tally:
    sent: int = 0
    acknowledged: list[str] = field(default_factory=list)
    five_xx: int = 0  # 5xx other than the designed 503 page
    designed_503: int = 0
    traces: int = 0
    connection_errors: int = 0
    # Forms whose first answer was thrown away (a lost confirmation) and sent again.
    resubmitted: int = 0
    resubmit_without_code: int = 0
    # Reports refused because their photos could not be stored, then sent without them.
    photo_refused: int = 0
    # Requests sent before a SIGTERM that never got an answer.
    cut_by_shutdown: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Load:
    """How the submitters behave: every ``photo_every``-th report (on average) carries a
    photo; every ``lose_every``-th form has its first answer thrown away and is sent again, as
    a phone whose confirmation never arrived does."""

    photo_every: int = 3
    lose_every: int = 8
    photo: bytes = b""
    signalled_at: list[float] = field(default_factory=list)


def _small_photo() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(out, "JPEG")
    return out.getvalue()


def _noisy_photo() -> bytes:
    """A photo that does not compress away (about 40 KB): it fills a small disk quickly."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.frombytes("RGB", (160, 120), os.urandom(160 * 120 * 3)).save(out, "JPEG", quality=95)
    return out.getvalue()


def _receipt(data: bytes) -> str | None:
    match = RECEIPT_RE.search(data.decode(errors="replace"))
    return match.group(1).replace(" ", "") if match else None


def submitter(port: int, ids: dict, stop: float, tally: Tally, load: Load) -> None:
    client = Client(port)
    token = None
    while time.monotonic() < stop:
        started = time.monotonic()
        try:
            if token is None:
                token = client.csrf("/report")
            key = secrets.token_urlsafe(16)
            fields = {"csrf_token": token, "submission_key": key,
                      "village": str(ids["villages"][0]), "category": str(ids["categories"][0]),
                      "unit_name": "故障演练店",
                      "description": "故障演练：疏散通道被堵塞，需要处理。",
                      "website": ""}
            with_photo = load.photo_every and secrets.randbelow(load.photo_every) == 0
            files = {"photos": ("p.jpg", load.photo)} if with_photo else {}
            body, content_type = multipart(fields, files)
            lose = load.lose_every and secrets.randbelow(load.lose_every) == 0
            with tally.lock:
                tally.sent += 1
            status, data, _ = client.send("POST", "/report", body, content_type)
            if lose:
                # The confirmation never reached the phone: the resident sends the form again.
                with tally.lock:
                    tally.resubmitted += 1
                status, data, _ = client.send("POST", "/report", body, content_type)
            _inspect(tally, status, data)
            for _ in range(RETRIES_AFTER_503):
                if not _designed_503(status, data) or PHOTO_FULL in data.decode(errors="replace"):
                    break
                # "Try again shortly": the resident sends the same form again a little later.
                time.sleep(1)
                status, data, _ = client.send("POST", "/report", body, content_type)
                _inspect(tally, status, data)
            if status != 200 and PHOTO_FULL in data.decode(errors="replace"):
                # The form came back with everything kept: send it again without the photo.
                with tally.lock:
                    tally.photo_refused += 1
                body, content_type = multipart(fields, {})
                status, data, _ = client.send("POST", "/report", body, content_type)
                _inspect(tally, status, data)
            if status != 200:
                token = None if status in (400, 422) else token
                if lose:
                    with tally.lock:
                        tally.resubmit_without_code += 1
                continue
            code = _receipt(data)
            with tally.lock:
                if code:
                    tally.acknowledged.append(code)
                elif lose:
                    tally.resubmit_without_code += 1
        except OSError:
            with tally.lock:
                tally.connection_errors += 1
                if load.signalled_at and started < load.signalled_at[0]:
                    tally.cut_by_shutdown += 1
            if load.signalled_at:
                return  # the server is gone; nothing more to send
            client = Client(port)
            token = None
            time.sleep(0.1)


RETRIES_AFTER_503 = 20


def _designed_503(status: int, data: bytes) -> bool:
    body = data.decode(errors="replace")
    return status == 503 and (DESIGNED_503 in body or PHOTO_FULL in body)


def _inspect(tally: Tally, status: int, data: bytes) -> None:
    body = data.decode(errors="replace")
    with tally.lock:
        if _designed_503(status, data):
            # The designed answers: the 503 page with Retry-After, or the form kept with the
            # message that its photos cannot be stored now.
            tally.designed_503 += 1
        elif status >= 500:
            tally.five_xx += 1
        if any(marker in body for marker in TRACE_MARKERS):
            tally.traces += 1


def _restart_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, capture_output=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _workers(server: Server) -> list[int]:
    assert server.process is not None
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server.process.pid)],
                         capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def _health(server: Server) -> str:
    try:
        status, body = request(server.port, "GET", "/healthz")
    except OSError as exc:
        return f"unreachable ({exc})"
    return f"{status} {body.decode(errors='replace').strip()}"


def _sign_in(server: Server) -> str:
    """Whether a moderator can sign in while the fault lasts."""
    try:
        Client(server.port).login(STAFF, STAFF_PASSWORD)
    except (RuntimeError, OSError) as exc:
        return f"sign-in failed: {exc}"
    return "sign-in works"


STAFF, STAFF_PASSWORD = "faultmod", "fault-password-0123456789"


def _ensure_staff(server: Server) -> None:
    try:
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "users", "create",
                        STAFF, "--role", "moderator"], cwd=ROOT, env=server.env,
                       input=f"{STAFF_PASSWORD}\n{STAFF_PASSWORD}\n", capture_output=True,
                       text=True, check=True)
    except subprocess.CalledProcessError as exc:
        if "已存在" not in (exc.stderr + exc.stdout):
            raise


# ---------------------------------------------------------------- the faults
# Each fault is (set-up, act): the set-up may change the server's settings before it starts
# (and returns what to undo afterwards); ``act`` runs while the submitters load the server and
# returns what happened, in words.

Fault = Callable[["Run"], list[str]]


@dataclass
class Run:
    args: argparse.Namespace
    server: Server
    load: Load
    tmp: Path
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return float(self.args.seconds)

    @property
    def postgres(self) -> bool:
        return self.args.database_url.startswith("postgresql")


def _kill_worker(run: Run) -> list[str]:
    events = []
    time.sleep(run.seconds * 0.3)
    workers = _workers(run.server)
    if workers:
        os.kill(workers[0], signal.SIGKILL)
        events.append(f"SIGKILL worker {workers[0]}")
    if run.args.restart_db and run.postgres:
        time.sleep(run.seconds * 0.2)
        _restart_postgres()
        events.append("PostgreSQL restarted")
    return events


def _redis_down_setup(run: Run) -> None:
    # Nothing listens on this port: the rate-limit storage is unreachable from the start.
    run.server.env["PORTAL_RATELIMIT_STORAGE_URI"] = f"redis://127.0.0.1:{_free_port()}"


def _redis_down(run: Run) -> list[str]:
    time.sleep(run.seconds * 0.3)
    return ["Redis unreachable from the start", f"health: {_health(run.server)}",
            _sign_in(run.server)]


def _redis_killed_setup(run: Run) -> None:
    port = _free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def stop_redis() -> None:
        redis.kill()
        redis.wait()

    run.cleanup.append(stop_redis)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    run.server.env["PORTAL_RATELIMIT_STORAGE_URI"] = f"redis://127.0.0.1:{port}"
    run.redis = redis  # type: ignore[attr-defined]


def _redis_killed(run: Run) -> list[str]:
    time.sleep(run.seconds * 0.4)
    run.redis.kill()  # type: ignore[attr-defined]
    time.sleep(1)
    return ["private Redis SIGKILLed under load", f"health: {_health(run.server)}",
            _sign_in(run.server)]


DISK_BYTES = 512 * 1024


def _disk_full_setup(run: Run) -> None:
    uploads = run.tmp / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(uploads)],
                   check=True, capture_output=True)
    def unmount() -> None:
        subprocess.run(["umount", "-l", str(uploads)], capture_output=True)

    run.cleanup.append(unmount)
    run.load.photo_every = 1
    run.load.photo = _noisy_photo()


def _disk_full(run: Run) -> list[str]:
    time.sleep(run.seconds * 0.6)
    return [f"upload disk of {DISK_BYTES // 1024} KB, every report with a photo",
            f"health: {_health(run.server)}"]


HANG_WORKER_TIMEOUT = 8


def _db_hang_setup(run: Run) -> None:
    run.server.env.update({
        # Retry 1 s + connect 2 s + statement 3 s stay below the worker timeout (8 s).
        "PORTAL_WORKER_TIMEOUT": str(HANG_WORKER_TIMEOUT),
        "PORTAL_DATABASE_CONNECT_TIMEOUT": "2",
        "PORTAL_DATABASE_CONNECT_RETRY_SECONDS": "1",
        "PORTAL_DATABASE_STATEMENT_TIMEOUT_MS": "3000",
        "PORTAL_DATABASE_LOCK_TIMEOUT_MS": "2000",
    })


def _db_hang(run: Run) -> list[str]:
    time.sleep(run.seconds * 0.3)
    engine = make_engine(run.args.database_url)
    held = HANG_WORKER_TIMEOUT + 4
    with engine.connect() as conn:
        conn.execute(text("LOCK TABLE tips IN ACCESS EXCLUSIVE MODE"))
        time.sleep(held)
        conn.rollback()
    engine.dispose()
    log = run.server.log_path.read_text(errors="replace")
    return [f"tips locked for {held} s (worker timeout {HANG_WORKER_TIMEOUT} s)",
            f"worker timeouts: {log.count('WORKER TIMEOUT')}"]


def _sigterm(run: Run) -> list[str]:
    time.sleep(run.seconds * 0.5)
    assert run.server.process is not None
    run.load.signalled_at.append(time.monotonic())
    run.server.process.send_signal(signal.SIGTERM)
    run.server.process.wait(timeout=60)
    return [f"SIGTERM to gunicorn under load; exited {run.server.process.returncode}"]


@dataclass(frozen=True)
class Scenario:
    name: str
    act: Fault
    setup: Callable[[Run], None] | None = None
    postgres_only: bool = False
    needs_root: bool = False


SCENARIOS = {s.name: s for s in (
    Scenario("kill", _kill_worker),
    Scenario("redis-down", _redis_down, _redis_down_setup),
    Scenario("redis-killed", _redis_killed, _redis_killed_setup),
    Scenario("disk-full", _disk_full, _disk_full_setup, needs_root=True),
    Scenario("db-hang", _db_hang, _db_hang_setup, postgres_only=True),
    Scenario("sigterm", _sigterm),
)}


def form_choices(database_url: str) -> dict[str, list[int]]:
    """The villages and categories a submitter may choose on the report form."""
    engine = make_engine(database_url)
    with engine.connect() as conn:
        ids = {"villages": list(conn.execute(text("SELECT id FROM villages WHERE active"))
                                .scalars()),
               "categories": list(conn.execute(text("SELECT id FROM categories WHERE active"))
                                  .scalars())}
    engine.dispose()
    return ids


def run(args: argparse.Namespace, scenario: str = "kill") -> dict:
    chosen = SCENARIOS[scenario]
    tmp = Path(args.tmp or ROOT / "instance" / "faults-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    ids = form_choices(args.database_url)
    engine = make_engine(args.database_url)
    with engine.connect() as conn:
        before = set(conn.execute(text("SELECT id FROM tips")).scalars())
    engine.dispose()
    server = Server(args.database_url, tmp)
    load = Load(photo=_small_photo(), lose_every=getattr(args, "lose_every", 8))
    current = Run(args, server, load, tmp)
    events: list[str] = []
    tally = Tally()
    try:
        if chosen.setup:
            chosen.setup(current)
        _ensure_staff(server)
        server.start()
        stop = time.monotonic() + args.seconds
        threads = [threading.Thread(target=submitter,
                                    args=(server.port, ids, stop, tally, load))
                   for _ in range(args.clients)]
        for t in threads:
            t.start()
        try:
            events = chosen.act(current)
        finally:
            for t in threads:
                t.join()
    finally:
        server.stop()
    try:
        result = _audit(server, tally, before, tmp)
    finally:
        for undo in reversed(current.cleanup):
            undo()
    return {"scenario": scenario, "events": events, **result}


def _audit(server: Server, tally: Tally, before: set[int], tmp: Path) -> dict:
    engine = make_engine(server.env["PORTAL_DATABASE_URL"])
    from portal.domain.reporting.identity import receipt_hash

    with engine.connect() as conn:
        hashes = [receipt_hash(server.env["PORTAL_RECEIPT_KEY"], code)
                  for code in tally.acknowledged]
        found = 0
        for i in range(0, len(hashes), 500):
            found += conn.execute(
                text("SELECT count(*) FROM tips WHERE receipt_hash IN :h").bindparams(
                    bindparam("h", expanding=True)),
                {"h": hashes[i:i + 500]}).scalar() or 0
        duplicates = conn.execute(text(
            "SELECT count(*) FROM (SELECT submission_key FROM tips WHERE submission_key IS NOT "
            "NULL GROUP BY submission_key HAVING count(*) > 1) d")).scalar()
        new_tips = set(conn.execute(text("SELECT id FROM tips")).scalars()) - before
        photos = [(tip_id, stored, thumb) for tip_id, stored, thumb in conn.execute(text(
            "SELECT tip_id, stored_name, thumbnail_name FROM attachments"))]
    engine.dispose()
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
    return {
        "sent": tally.sent, "acknowledged": len(tally.acknowledged),
        "found": found, "duplicates": duplicates, "five_xx": tally.five_xx,
        "designed_503": tally.designed_503,
        "stack_traces": tally.traces, "connection_errors": tally.connection_errors,
        "resubmitted": tally.resubmitted, "resubmit_without_code": tally.resubmit_without_code,
        "photo_refused": tally.photo_refused, "cut_by_shutdown": tally.cut_by_shutdown,
        "orphan_uploads": orphans, "left_by_crashes": left_by_crashes,
        "missing_files": missing, "new_tips": len(new_tips),
        "worker_timeouts": log.count("WORKER TIMEOUT"),
        # Requests the database dropped out under, answered by their second run.
        "retried": log.count("running the request again"),
    }


def kept_promises(result: dict) -> bool:
    return (result["found"] == result["acknowledged"] and result["duplicates"] == 0
            and result["stack_traces"] == 0 and result["orphan_uploads"] == 0
            and result["missing_files"] == 0 and result["five_xx"] == 0
            and result["resubmit_without_code"] == 0 and result["cut_by_shutdown"] == 0
            and result["worker_timeouts"] == 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--restart-db", action="store_true")
    parser.add_argument("--lose-every", type=int, default=8,
                        help="throw away the first answer of one form in N (0: never)")
    parser.add_argument("--scenario", action="append", choices=[*SCENARIOS, "all"],
                        help="which faults (repeatable; default: kill)")
    parser.add_argument("--tmp", default="")
    args = parser.parse_args(argv)
    names = args.scenario or ["kill"]
    if "all" in names:
        names = list(SCENARIOS)
    failed = 0
    for name in names:
        scenario = SCENARIOS[name]
        if scenario.postgres_only and not args.database_url.startswith("postgresql"):
            print(f"{name}: skipped (PostgreSQL only)")
            continue
        if scenario.needs_root and os.geteuid() != 0:
            print(f"{name}: skipped (needs root to mount a small disk)")
            continue
        result = run(args, name)
        ok = kept_promises(result)
        failed += 0 if ok else 1
        print(f"{name}: " + "; ".join(result["events"]))
        print("  sent {sent}, acknowledged {acknowledged}, found afterwards {found}, "
              "duplicates {duplicates}, unexpected 5xx {five_xx}, designed 503 page "
              "{designed_503}, stack traces {stack_traces}, forms sent again after a lost "
              "confirmation {resubmitted} (without their receipt {resubmit_without_code}), "
              "reports whose photo could not be stored {photo_refused}, requests cut by the "
              "shutdown {cut_by_shutdown}, orphan uploads {orphan_uploads} (files left by "
              "the crash before `uploads gc` {left_by_crashes}), stored photos missing their "
              "file {missing_files}, worker timeouts {worker_timeouts}, connection errors "
              "{connection_errors}, requests run again after a database error "
              "{retried}".format(**result))
        print("  PASS" if ok else "  FAIL")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
