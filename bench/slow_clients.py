"""Slow clients never hold a worker (issue 19): one gunicorn instance (deploy/gunicorn.conf.py,
two sync workers, a short PORTAL_WORKER_TIMEOUT) behind nginx running deploy/nginx.conf's
proxy rules (bench/instances.py's Proxy, one upstream), then the same directly against
gunicorn without nginx, to show the difference.

    python -m bench.slow_clients --database-url sqlite:///... [--prepare] [--uploaders 50]
                                 [--downloaders 20] [--direct-uploaders 4] [--no-direct]

Slow uploaders are phones: each fetches a fresh form (GET /report: CSRF token, submission
key), then sends a multipart POST /report with a photo (~300 KB) over a raw socket at about
30 KB/s, their starts spread over one upload's length so that at the peak all are in flight at
once. Slow downloaders GET /disclosures.csv (the public dump) with a small receive buffer,
reading a few KB/s until the uploads are done. Meanwhile /livez and a public page are probed
through the same front door. Afterwards: every receipt shown must name a report found in the
database, and gunicorn's log must hold no WORKER TIMEOUT. Prints both runs; exits non-zero if
the run through nginx breaks a promise. Only talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import random
import re
import socket
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, text

from bench import seed
from bench.faults import RECEIPT_RE
from bench.http import CSRF_RE, SUBMISSION_KEY_RE, VALUE_RE, Server, multipart
from bench.instances import Proxy
from bench.seed import BENCH_RECEIPT_KEY
from portal.config import ROOT
from portal.db import make_engine
from portal.domain.reporting.identity import submission_hash

TIP_TEXT = "慢速客户端演练：楼道堆放杂物，堵塞疏散通道。"
DOWNLOAD_PATH = "/disclosures.csv"
PUBLIC_PAGE = "/disclosures"
PROBE_TIMEOUT = 5.0


@dataclass
class Settings:
    uploaders: int
    downloaders: int
    photo_bytes: int
    upload_rate: int  # bytes per second, each uploader
    download_rate: int  # bytes per second, each downloader
    workers: int = 2
    worker_timeout: int = 10
    probe_interval: float = 0.05
    downloads_at_once: bool = False  # all dump requests in the same instant


@dataclass
class Outcome:
    mode: str
    settings: Settings
    sent: int = 0
    acknowledged: list[str] = field(default_factory=list)  # submission keys with a receipt
    upload_statuses: dict[str, int] = field(default_factory=dict)
    upload_seconds: list[float] = field(default_factory=list)
    found: int = 0
    downloaded_bytes: int = 0
    download_statuses: dict[str, int] = field(default_factory=dict)
    download_refusals: list[str] = field(default_factory=list)
    livez_ms: list[float] = field(default_factory=list)
    livez_failed: int = 0
    livez_at: list[tuple[float, float]] = field(default_factory=list)  # (s into the run, ms)
    begin: float = 0.0
    page_ms: list[float] = field(default_factory=list)
    page_failed: int = 0
    worker_timeouts: int = 0
    proxy_5xx: int = 0
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, table: dict[str, int], key: str) -> None:
        with self.lock:
            table[key] = table.get(key, 0) + 1

    def figures(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "uploaders": self.settings.uploaders,
            "downloaders": self.settings.downloaders,
            "photo_kb": self.settings.photo_bytes // 1024,
            "upload_kb_s": self.settings.upload_rate / 1024,
            "download_kb_s": self.settings.download_rate / 1024,
            "workers": self.settings.workers, "worker_timeout": self.settings.worker_timeout,
            "sent": self.sent, "acknowledged": len(self.acknowledged), "found": self.found,
            "lost": self.sent - self.found,
            "upload_statuses": dict(sorted(self.upload_statuses.items())),
            "upload_s_median": _pct(self.upload_seconds, 50) / 1000,
            "downloaded_kb": self.downloaded_bytes // 1024,
            "download_statuses": dict(sorted(self.download_statuses.items())),
            "download_refusals": self.download_refusals,
            "livez": len(self.livez_ms), "livez_failed": self.livez_failed,
            "livez_p50_ms": _pct(self.livez_ms, 50), "livez_p99_ms": _pct(self.livez_ms, 99),
            "livez_max_ms": max(self.livez_ms, default=0.0),
            "livez_slowest": ", ".join(f"{ms:.0f} ms at {at:.1f} s" for at, ms in sorted(
                self.livez_at, key=lambda p: -p[1])[:3]),
            "page": len(self.page_ms), "page_failed": self.page_failed,
            "page_p50_ms": _pct(self.page_ms, 50), "page_p99_ms": _pct(self.page_ms, 99),
            "worker_timeouts": self.worker_timeouts, "proxy_5xx": self.proxy_5xx,
            "seconds": round(self.seconds, 1),
        }


def _pct(values: list[float], pct: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1] if pct < 100 \
        else max(values)


def photo_of(size: int) -> bytes:
    """A noise JPEG of about ``size`` bytes (noise does not compress)."""
    from PIL import Image

    side = max(64, int((size / 2.2) ** 0.5))
    while True:
        out = io.BytesIO()
        Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(
            out, "JPEG", quality=90)
        if out.tell() >= size * 0.95:
            return out.getvalue()
        side = int(side * 1.05) + 1


class SlowServer(Server):
    """bench.http's production server with this run's workers and worker timeout; the
    database timeouts shrink with it (they must stay below it, portal.config.check_timeouts)."""

    def __init__(self, database_url: str, tmp: Path, settings: Settings, *,
                 behind_proxy: bool) -> None:
        super().__init__(database_url, tmp)
        timeout = settings.worker_timeout
        budget = max(1, (timeout - 1) // 4)  # connect retry + connect + statement < timeout
        self.env.update({
            "PORTAL_WORKERS": str(settings.workers),
            "PORTAL_WORKER_TIMEOUT": str(timeout),
            "PORTAL_GRACEFUL_TIMEOUT": "5",
            "PORTAL_DATABASE_CONNECT_TIMEOUT": str(budget),
            "PORTAL_DATABASE_CONNECT_RETRY_SECONDS": str(budget),
            "PORTAL_DATABASE_STATEMENT_TIMEOUT_MS": str(budget * 1000),
            "PORTAL_DATABASE_LOCK_TIMEOUT_MS": str(budget * 1000),
            "PORTAL_PROXY_COUNT": "1" if behind_proxy else "0",
            "PORTAL_LOG_LEVEL": "WARNING",
            # The production set-up: nginx sends the open-data files (docs/open-data.md).
            "PORTAL_ACCEL_REDIRECT_PREFIX": "/_opendata/" if behind_proxy else "",
            "PORTAL_PUBLIC_URL": "https://127.0.0.1",
        })
        self.uploads = tmp / "uploads"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            super().stop()


class Front:
    """Where clients connect: nginx's port, or gunicorn's; what a browser's Referer says."""

    def __init__(self, port: int, secure: bool) -> None:
        self.port, self.secure = port, secure
        self.origin = f"{'https' if secure else 'http'}://127.0.0.1:{port}"


def _read_response(sock: socket.socket, deadline: float) -> tuple[int, bytes]:
    chunks = []
    while True:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        data = sock.recv(65536)
        if not data:
            break
        chunks.append(data)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    if not match:
        return 0, b""
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return int(match.group(1)), body


def _dechunk(body: bytes) -> bytes:
    out, rest = [], body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2:]
    return b"".join(out)


def slow_upload(front: Front, ids: dict[str, list[int]], photo: bytes, settings: Settings,
                outcome: Outcome, start_at: float, give_up_at: float) -> None:
    """A phone: a fresh form, then the report with its photo sent at ``upload_rate``."""
    time.sleep(max(0.0, start_at - time.monotonic()))
    try:
        conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=30)
        conn.request("GET", "/report", headers={"Host": f"127.0.0.1:{front.port}"})
        response = conn.getresponse()
        page = response.read().decode(errors="replace")
        cookies = "; ".join(v.split(";", 1)[0] for k, v in response.getheaders()
                            if k.lower() == "set-cookie")
        conn.close()
        token = CSRF_RE.search(page)
        key_field = SUBMISSION_KEY_RE.search(page)
        key_value = VALUE_RE.search(key_field.group(0)) if key_field else None
        if response.status != 200 or not token or not key_value:
            outcome.count(outcome.upload_statuses, f"form {response.status}")
            return
    except (OSError, http.client.HTTPException):
        outcome.count(outcome.upload_statuses, "form failed")
        return
    key = key_value.group(1)
    body, content_type = multipart(
        {"csrf_token": token.group(1), "submission_key": key,
         "village": str(random.choice(ids["villages"])),
         "category": str(random.choice(ids["categories"])),
         "unit_name": "慢速网络小店", "description": TIP_TEXT, "website": ""},
        {"photos": ("phone.jpg", photo)})
    head = (f"POST /report HTTP/1.1\r\nHost: 127.0.0.1:{front.port}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"Cookie: {cookies}\r\nReferer: {front.origin}/report\r\n"
            "Connection: close\r\n\r\n").encode()
    with outcome.lock:
        outcome.sent += 1
    started = time.monotonic()
    step = 0.1
    chunk = max(1, int(settings.upload_rate * step))
    try:
        with socket.create_connection(("127.0.0.1", front.port), timeout=30) as sock:
            sock.sendall(head)
            for n, offset in enumerate(range(0, len(body), chunk)):
                time.sleep(max(0.0, started + n * step - time.monotonic()))
                sock.settimeout(max(0.1, give_up_at - time.monotonic()))
                sock.sendall(body[offset:offset + chunk])
            status, answer = _read_response(sock, give_up_at)
    except (OSError, TimeoutError) as exc:
        outcome.count(outcome.upload_statuses, type(exc).__name__)
        return
    outcome.count(outcome.upload_statuses, str(status))
    receipt = RECEIPT_RE.search(answer.decode(errors="replace"))
    if status == 200 and receipt:
        with outcome.lock:
            outcome.acknowledged.append(key)
            outcome.upload_seconds.append((time.monotonic() - started) * 1000)


def slow_download(front: Front, settings: Settings, outcome: Outcome,
                  stop: threading.Event, start_at: float) -> None:
    """Someone on a poor line fetching the public dump, reading ``download_rate`` B/s with a
    small receive buffer, until the run ends (then it hangs up, as a phone's browser would)."""
    if stop.wait(max(0.0, start_at - time.monotonic())):
        return
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    got = 0
    status = "no answer"
    try:
        sock.settimeout(30)
        sock.connect(("127.0.0.1", front.port))
        sock.sendall(f"GET {DOWNLOAD_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{front.port}\r\n"
                     "Connection: close\r\n\r\n".encode())
        started = time.monotonic()
        step = 0.1
        chunk = max(1, int(settings.download_rate * step))
        n = 0
        while not stop.is_set():
            sock.settimeout(1.0)
            try:
                data = sock.recv(chunk)
            except TimeoutError:
                continue
            if not data:
                status = f"{status} complete"
                break
            if not got:
                match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
                status = match.group(1).decode() if match else "garbled"
                if status != "200":  # what the refusal said, for the report
                    said = data.partition(b"\r\n\r\n")[2][:120].decode(errors="replace")
                    with outcome.lock:
                        outcome.download_refusals.append(f"{status}: {said.strip()}")
            got += len(data)
            n += 1
            time.sleep(max(0.0, started + n * step - time.monotonic()))
        else:
            status = f"{status} partial"
    except OSError as exc:
        status = f"{status} {type(exc).__name__}"
    finally:
        sock.close()
        with outcome.lock:
            outcome.downloaded_bytes += got
        outcome.count(outcome.download_statuses, status)


def prober(front: Front, path: str, interval: float, outcome: Outcome, which: str,
           stop: threading.Event) -> None:
    """A monitor's check (or a visitor's page): a new connection each time, timed."""
    while not stop.is_set():
        started = time.perf_counter()
        ok = False
        try:
            conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=PROBE_TIMEOUT)
            conn.request("GET", path, headers={"Host": f"127.0.0.1:{front.port}"})
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
            conn.close()
        except (OSError, http.client.HTTPException):
            pass
        elapsed = (time.perf_counter() - started) * 1000
        with outcome.lock:
            if which == "livez":
                outcome.livez_at.append((time.monotonic() - outcome.begin, elapsed))
                outcome.livez_ms.append(elapsed) if ok else None
                outcome.livez_failed += not ok
            else:
                outcome.page_ms.append(elapsed) if ok else None
                outcome.page_failed += not ok
        stop.wait(max(0.0, interval - elapsed / 1000))


def _ids(database_url: str) -> dict[str, list[int]]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return {name: list(conn.execute(text(
                f"SELECT id FROM {name} WHERE active ORDER BY id")).scalars())  # nosec B608
                for name in ("villages", "categories")}
    finally:
        engine.dispose()


def _found(database_url: str, keys: list[str]) -> int:
    if not keys:
        return 0
    engine = make_engine(database_url)
    hashed = [submission_hash(BENCH_RECEIPT_KEY, key) for key in keys]
    try:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT count(*) FROM tips WHERE submission_key IN :keys")
                .bindparams(bindparam("keys", expanding=True)), {"keys": hashed}).scalar()
    finally:
        engine.dispose()


def run_once(database_url: str, tmp: Path, settings: Settings, *, behind_nginx: bool,
             report: Any = None) -> Outcome:
    report = report or (lambda line: print(line, flush=True))
    mode = "through nginx" if behind_nginx else "directly to gunicorn"
    outcome = Outcome(mode, settings)
    tmp.mkdir(parents=True, exist_ok=True)
    ids = _ids(database_url)
    photo = photo_of(settings.photo_bytes)
    server = SlowServer(database_url, tmp / "gunicorn", settings, behind_proxy=behind_nginx)
    proxy = Proxy(tmp / "nginx", [server.port], uploads=server.uploads) if behind_nginx \
        else None
    try:
        # The dumps are files, built by the timer's command as in production.
        server.flask("opendata", "build")
        server.start()
        if proxy:
            proxy.start()
        front = Front(proxy.port if proxy else server.port, secure=behind_nginx)
        # Every worker warm (imports, the first page) before the clock starts.
        for _ in range(settings.workers * 2):
            for path in ("/livez", PUBLIC_PAGE, "/report"):
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=30)
                    conn.request("GET", path)
                    conn.getresponse().read()
                    conn.close()
                except (OSError, http.client.HTTPException):
                    pass
        upload_seconds = len(photo) / settings.upload_rate
        spread = upload_seconds  # starts spread over one upload: at the peak all in flight
        begin = outcome.begin = time.monotonic() + 0.5
        give_up_at = begin + spread + upload_seconds + settings.worker_timeout + 15
        stop = threading.Event()
        report(f"{mode}: {settings.uploaders} uploaders ({len(photo) // 1024} KB photo at "
               f"{settings.upload_rate // 1024} KB/s, ~{upload_seconds:.0f} s each), "
               f"{settings.downloaders} downloaders of {DOWNLOAD_PATH} at "
               f"{settings.download_rate // 1024} KB/s, {settings.workers} workers, worker "
               f"timeout {settings.worker_timeout} s")
        background = [threading.Thread(target=prober, args=(front, "/livez",
                                                            settings.probe_interval, outcome,
                                                            "livez", stop), daemon=True),
                      threading.Thread(target=prober, args=(front, PUBLIC_PAGE, 0.2, outcome,
                                                            "page", stop), daemon=True)]
        # Downloads start spread over the first seconds as the uploads do (or in one burst):
        # either way all are in flight together for most of the run.
        download_spread = 0.0 if settings.downloads_at_once else min(spread, 5.0)
        background += [threading.Thread(
            target=slow_download,
            args=(front, settings, outcome, stop,
                  begin + download_spread * n / max(1, settings.downloaders)), daemon=True)
            for n in range(settings.downloaders)]
        uploads = [threading.Thread(
            target=slow_upload,
            args=(front, ids, photo, settings, outcome,
                  begin + spread * n / max(1, settings.uploaders), give_up_at), daemon=True)
            for n in range(settings.uploaders)]
        for thread in background + uploads:
            thread.start()
        for thread in uploads:
            thread.join(max(0.1, give_up_at + 5 - time.monotonic()))
        time.sleep(0.5)
        stop.set()
        for thread in background:
            thread.join(PROBE_TIMEOUT + 2)
        outcome.seconds = time.monotonic() - begin
    finally:
        if proxy:
            proxy.stop()
        server.stop()
    outcome.found = _found(database_url, outcome.acknowledged)
    log = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
    outcome.worker_timeouts = log.count("WORKER TIMEOUT")
    if proxy:
        outcome.proxy_5xx = sum(1 for m in proxy.lines() if m.group(5).startswith("5"))
    report(f"  {summary(outcome.figures())}")
    return outcome


def summary(f: dict[str, Any]) -> str:
    return ("{mode}: reports sent {sent}, acknowledged with a receipt {acknowledged}, found "
            "in the database {found}, lost {lost} (answers {upload_statuses}, median upload "
            "{upload_s_median:.1f} s); downloads {download_statuses}, {downloaded_kb} KB read; "
            "/livez {livez} probes p50 {livez_p50_ms:.1f} ms p99 {livez_p99_ms:.1f} ms max "
            "{livez_max_ms:.0f} ms (slowest {livez_slowest}), failed {livez_failed}; "
            "{page_path} p50 {page_p50_ms:.1f} ms p99 {page_p99_ms:.1f} ms, failed {page_failed}; "
            "WORKER TIMEOUT in the log "
            "{worker_timeouts}; 5xx at nginx {proxy_5xx}; {seconds} s").format(
                page_path=PUBLIC_PAGE, **f)


def kept_promises(f: dict[str, Any], *, livez_p99_ms: float) -> list[str]:
    broken = []
    if f["acknowledged"] != f["sent"]:
        broken.append(f"{f['sent'] - f['acknowledged']} of {f['sent']} uploads not acknowledged")
    if f["found"] != f["acknowledged"]:
        broken.append(f"{f['acknowledged'] - f['found']} acknowledged reports not found")
    if f["worker_timeouts"]:
        broken.append(f"{f['worker_timeouts']} WORKER TIMEOUT in gunicorn's log")
    if f["livez_failed"] or f["page_failed"]:
        broken.append(f"probes failed: /livez {f['livez_failed']}, page {f['page_failed']}")
    if not f["livez_p99_ms"] < livez_p99_ms:
        broken.append(f"/livez p99 {f['livez_p99_ms']:.1f} ms (limit {livez_p99_ms:g} ms)")
    if f["proxy_5xx"]:
        broken.append(f"{f['proxy_5xx']} 5xx at nginx")
    return broken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--prepare", action="store_true",
                        help="empty the database and seed it (--cases) first")
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--uploaders", type=int, default=50)
    parser.add_argument("--downloaders", type=int, default=20)
    parser.add_argument("--photo-kb", type=int, default=300)
    parser.add_argument("--upload-kb-s", type=float, default=30)
    parser.add_argument("--download-kb-s", type=float, default=4)
    parser.add_argument("--downloads-at-once", action="store_true",
                        help="send every dump request in the same instant (by default their "
                             "starts are spread over the first 5 s)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-timeout", type=int, default=10)
    parser.add_argument("--livez-p99-ms", type=float, default=100)
    parser.add_argument("--direct-uploaders", type=int, default=4)
    parser.add_argument("--direct-downloaders", type=int, default=2)
    parser.add_argument("--direct-worker-timeout", type=int, default=5)
    parser.add_argument("--no-direct", action="store_true",
                        help="skip the run without nginx")
    parser.add_argument("--tmp", default="")
    args = parser.parse_args(argv)
    if args.prepare:
        engine = seed.prepare(args.database_url, fresh=True)
        seed.seed(engine, args.cases, random.Random(19))
        engine.dispose()
    tmp = Path(args.tmp or (ROOT / "instance" / "bench-slow-clients"))

    def settings(uploaders: int, downloaders: int, timeout: int) -> Settings:
        return Settings(uploaders=uploaders, downloaders=downloaders,
                        photo_bytes=args.photo_kb * 1024,
                        upload_rate=int(args.upload_kb_s * 1024),
                        download_rate=int(args.download_kb_s * 1024), workers=args.workers,
                        worker_timeout=timeout, downloads_at_once=args.downloads_at_once)

    proxied = run_once(args.database_url, tmp / f"nginx-{os.getpid()}",
                       settings(args.uploaders, args.downloaders, args.worker_timeout),
                       behind_nginx=True).figures()
    if not args.no_direct:
        run_once(args.database_url, tmp / f"direct-{os.getpid()}",
                 settings(args.direct_uploaders, args.direct_downloaders,
                          args.direct_worker_timeout), behind_nginx=False)
    broken = kept_promises(proxied, livez_p99_ms=args.livez_p99_ms)
    print("PASS (through nginx)" if not broken else "FAIL (through nginx): " + "; ".join(broken))
    return 0 if not broken else 1


if __name__ == "__main__":
    sys.exit(main())
