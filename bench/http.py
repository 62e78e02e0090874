"""Measure the app under gunicorn, exactly as the README's production section runs it.

    python -m bench.http --database-url URL [--label 100k] [--duration 5] [--concurrency 16]

Starts gunicorn (same worker settings as the README), warms every endpoint, then for each one
runs `concurrency` keep-alive clients for `duration` seconds and prints throughput and p50/p99
latency, each also as a ratio to the baseline measured in the same run, because absolute
figures on a shared machine drift. The baseline is a trivial Flask app (bench/trivial.py)
served by a second gunicorn with the same settings; /livez is a row like any other.

Most reads are measured twice: "cached", one fixed URL (after the warm-up, a page-cache hit),
and "varied", a new URL per request as real clients send them (search words, filters and pages
of /disclosures, unit pages, Open311 listings), so cached and uncached figures sit side by
side. A varied public URL also carries a parameter of its own that no view reads (``_=n``,
as a cache-busting client sends): the pages, words and townships it draws from are a few
hundred, and without it a run of thousands would be partly served from the page cache.
POST /report is measured reusing one form (token) and with a fresh form per report (GET
/report, then POST with its token and submission key). Every POST /report row is checked
for loss: the database must hold exactly one tip per confirmation the clients saw. Results go
to bench/results/*.json and are tabulated into docs/performance.md by bench.report.
"""

from __future__ import annotations

import argparse
import http.client
import io
import itertools
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import bindparam, text

from bench.seed import BENCH_RECEIPT_KEY, KNOWN_RECEIPT, SHOP_WORDS, SURNAMES
from portal.config import ROOT
from portal.db import make_engine
from portal.domain.reporting.identity import submission_hash

# The README's production command: its config file, with the workers it defaults to.
GUNICORN_WORKERS = 4
GUNICORN_ARGS = ["--config", str(ROOT / "deploy" / "gunicorn.conf.py")]
RESULTS = ROOT / "bench" / "results"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SUBMISSION_KEY_RE = re.compile(r'<input[^>]*name="submission_key"[^>]*>')
VALUE_RE = re.compile(r'value="([^"]*)"')
TRIVIAL_APP = "bench.trivial:app"


@dataclass
class Figure:
    name: str
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    rps_ratio: float = 0.0
    p50_ratio: float = 0.0
    notes: str = ""
    statuses: dict[str, int] = field(default_factory=dict)


class Server:
    def __init__(self, database_url: str, tmp: Path, *, app: str = "wsgi:app",
                 health: str = "/livez") -> None:
        self.port = _free_port()
        self.app, self.health = app, health
        self.env = {
            **os.environ,
            "PORTAL_ENV": "production",
            "PORTAL_SECRET_KEY": "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "PORTAL_FIELD_KEYS": "pVaw5pRvMBnpZ7z1m0kq4l6n3mR9Q2yF0nXo8u5bT1c=",
            "PORTAL_RECEIPT_KEY": BENCH_RECEIPT_KEY,
            "PORTAL_AUDIT_KEY": "bench-audit-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "PORTAL_PUBLIC_HOSTS": "127.0.0.1,localhost",
            "PORTAL_DATABASE_URL": database_url,
            "PORTAL_UPLOAD_DIR": str(tmp / "uploads"),
            # The benchmark is one client address sending thousands of requests.
            "PORTAL_REPORT_RATE_LIMIT": "10000000 per hour",
            "PORTAL_REPORT_POST_RATE_LIMIT": "10000000 per hour",
            "PORTAL_TRACK_RATE_LIMIT": "10000000 per hour",
            "PORTAL_OPEN311_GET_RATE_LIMIT": "10000000 per hour",
            "PORTAL_LOG_LEVEL": "WARNING",
            "PORTAL_WORKERS": str(GUNICORN_WORKERS),
        }
        self.process: subprocess.Popen[bytes] | None = None
        # The server's log goes to a file: a pipe nobody reads would block the workers once
        # its buffer filled.
        self.log_path = tmp / ("gunicorn.log" if app == "wsgi:app"
                               else f"gunicorn-{app.partition(':')[0]}.log")

    def flask(self, *args: str) -> str:
        return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, check=True).stdout

    def start(self) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(gunicorn), *GUNICORN_ARGS, "--bind", f"127.0.0.1:{self.port}", self.app],
                cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                status, _ = request(self.port, "GET", self.health)
                if status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def worker_rss_mb(self) -> list[float]:
        if not self.process:
            return []
        out = subprocess.run(["ps", "-o", "pid=,rss=", "--ppid", str(self.process.pid)],
                             capture_output=True, text=True).stdout
        return [int(line.split()[1]) / 1024 for line in out.strip().splitlines()]

    def stop(self) -> None:
        if self.process:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Client:
    """One keep-alive connection with its own cookies (session, CSRF)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=180)
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, body: bytes | None = None,
             content_type: str | None = None) -> tuple[int, bytes, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if content_type:
            headers["Content-Type"] = content_type
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=180)
                if attempt:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, data, response.getheader("Location") or ""

    def csrf(self, path: str) -> str:
        _status, body, _ = self.send("GET", path)
        match = CSRF_RE.search(body.decode())
        if not match:
            raise RuntimeError(f"no CSRF token on {path}")
        return match.group(1)

    def login(self, username: str, password: str) -> None:
        token = self.csrf("/admin/login")
        body = urllib.parse.urlencode({"csrf_token": token, "username": username,
                                       "password": password, "next": ""}).encode()
        status, _, _ = self.send("POST", "/admin/login", body,
                                 "application/x-www-form-urlencoded")
        if status not in (302, 303):
            raise RuntimeError(f"login as {username} failed ({status})")


def photo_jpeg(size_bytes: int = 1024 * 1024) -> bytes:
    """A JPEG of about `size_bytes` (noise does not compress)."""
    from PIL import Image

    side = 900
    while True:
        image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90)
        if out.tell() >= size_bytes:
            return out.getvalue()
        side += 150


def _phone_photo() -> bytes:
    from bench import photos  # bench.photos imports this module

    return photos.phone_photo()


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    for name, (filename, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
                     + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Endpoint:
    """A GET of `path`: a fixed URL, or a callable returning the next URL to ask for (a real
    client's varied requests, which a page cache cannot all hold)."""

    def __init__(self, name: str, path: str | Callable[[], str], *,
                 login: tuple[str, str] | None = None, concurrency: int | None = None,
                 port: int | None = None) -> None:
        self.name, self.login = name, login
        if callable(path):
            self.urls: Callable[[], str] | None = path
            self.path = path().partition("?")[0]
        else:
            self.urls, self.path = None, path
        self.concurrency = concurrency  # None: the run's --concurrency
        self.port = port  # None: the portal's server
        self.accepted_keys: list[str] = []
        self._lock = threading.Lock()

    def url(self) -> str:
        return self.urls() if self.urls else self.path

    def prepare(self, client: Client) -> None:
        if self.login:
            client.login(*self.login)

    def call(self, client: Client) -> int:
        return client.send("GET", self.url())[0]


class TrackLookup(Endpoint):
    def prepare(self, client: Client) -> None:
        client.token = client.csrf("/track")  # type: ignore[attr-defined]

    def call(self, client: Client) -> int:
        body = urllib.parse.urlencode({"csrf_token": client.token,  # type: ignore[attr-defined]
                                       "code": KNOWN_RECEIPT}).encode()
        return client.send("POST", self.path, body, "application/x-www-form-urlencoded")[0]


BENCH_TIP_TEXT = "压测：安全出口被货物堵塞，需要尽快处理。"


def remove_bench_tips(engine) -> int:
    """Delete the tips earlier runs posted, so that every run starts from the seeded data (a
    database measured five times would otherwise hold five runs' pending backlog)."""
    mine = "SELECT id FROM tips WHERE description = :text"
    with engine.begin() as conn:
        for table in ("attachments", "messages", "tip_revisions"):
            conn.execute(text(f"DELETE FROM {table} WHERE tip_id IN ({mine})"),  # nosec B608
                         {"text": BENCH_TIP_TEXT})
        return conn.execute(text("DELETE FROM tips WHERE description = :text"),
                            {"text": BENCH_TIP_TEXT}).rowcount


class ReportPost(Endpoint):
    def __init__(self, name: str, *, ids: dict[str, list[int]], photo: bytes | None) -> None:
        super().__init__(name, "/report")
        self.ids, self.photo = ids, photo

    def prepare(self, client: Client) -> None:
        client.token = client.csrf("/report")  # type: ignore[attr-defined]

    def call(self, client: Client) -> int:
        return self._post(client, secrets.token_urlsafe(16))

    def _post(self, client: Client, key: str) -> int:
        fields = {
            "csrf_token": client.token,  # type: ignore[attr-defined]
            "submission_key": key, "village": str(random.choice(self.ids["villages"])),
            "category": str(random.choice(self.ids["categories"])),
            "unit_name": "压测超市", "description": BENCH_TIP_TEXT,
            "website": "",
        }
        files = {"photos": ("photo.jpg", self.photo)} if self.photo else {}
        body, content_type = multipart(fields, files)
        status = client.send("POST", self.path, body, content_type)[0]
        if status == 200:  # the confirmation page, answered by the POST itself
            with self._lock:
                self.accepted_keys.append(key)
        return status


class FreshReportPost(ReportPost):
    """What a real reporter does: GET /report (a new form, with its CSRF token and submission
    key), then POST it. One request of this row is the pair."""

    def prepare(self, client: Client) -> None:
        pass

    def call(self, client: Client) -> int:
        status, page, _ = client.send("GET", self.path)
        if status != 200:
            return status
        html = page.decode()
        token = CSRF_RE.search(html)
        field_ = SUBMISSION_KEY_RE.search(html)
        value = VALUE_RE.search(field_.group(0)) if field_ else None
        if not token or not value or not value.group(1):
            return 1  # a form without its token or key: counted as an error
        client.token = token.group(1)  # type: ignore[attr-defined]
        return self._post(client, value.group(1))


def measure(port: int, endpoint: Endpoint, *, concurrency: int, duration: float) -> Figure:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    ready = threading.Barrier(concurrency + 1)
    stop_at = [0.0]

    def worker() -> None:
        client = Client(port)
        endpoint.prepare(client)
        ready.wait()
        local_lat, local_status = [], {}
        while time.perf_counter() < stop_at[0]:
            started = time.perf_counter()
            try:
                status = endpoint.call(client)
            except (OSError, http.client.HTTPException):
                status = 0
            local_lat.append(time.perf_counter() - started)
            local_status[str(status)] = local_status.get(str(status), 0) + 1
        with lock:
            latencies.extend(local_lat)
            for k, v in local_status.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + 3600
    ready.wait()
    began = time.perf_counter()
    stop_at[0] = began + duration
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    ok = {"200", "303", "302", "304"}
    errors = sum(v for k, v in statuses.items() if k not in ok)
    lat = sorted(latencies) or [0.0]
    return Figure(
        name=endpoint.name, requests=len(latencies), errors=errors,
        rps=len(latencies) / elapsed, p50_ms=statistics.median(lat) * 1000,
        p99_ms=lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, statuses=statuses,
    )


# Words no seeded unit name holds (the seed names units "<surname>记<shop word><n>").
NO_MATCH_WORDS = ["冰淇淋", "天文台", "滑雪场", "游艇码头", "钟表行", "琴行"]
PUBLIC_STATUSES = ["rectifying", "rectified", "closed"]
SEVERITIES = ["general", "major"]


def search_words() -> list[str]:
    """2–4 Chinese characters drawn from the seed's unit-name vocabulary."""
    words = {f"{s}记" for s in SURNAMES}
    for shop in SHOP_WORDS:
        words.update(w for w in (shop, f"记{shop}", *(f"{s}记{shop}" for s in SURNAMES))
                     if 2 <= len(w) <= 4)
    return sorted(words)


def varied_urls(engine, rng: random.Random) -> dict[str, Callable[[], str]]:
    """URL generators for the "varied" rows: each call returns the next URL a real client
    might ask for."""
    with engine.connect() as conn:
        units = list(conn.execute(text(
            "SELECT unit_id FROM (SELECT DISTINCT unit_id FROM cases WHERE disclosed) AS u "
            "ORDER BY random() LIMIT 5000")).scalars())
        codes = list(conn.execute(text(
            "SELECT code FROM townships WHERE active ORDER BY id")).scalars()) or ["t1"]
        choices = {
            "village": list(conn.execute(text("SELECT id FROM villages WHERE active")).scalars()),
            "venue_type": list(conn.execute(text(
                "SELECT id FROM venue_types WHERE active")).scalars()),
            "category": list(conn.execute(text(
                "SELECT id FROM categories WHERE active")).scalars()),
        }
    words = search_words()
    lock = threading.Lock()  # one generator is shared by all the clients of its row
    drawn = itertools.count(1)

    def fresh(url: str) -> str:
        """``url`` as no process has served it yet: a page-cache miss (see the module's
        notes), whatever it asks for."""
        return f"{url}{'&' if '?' in url else '?'}_={next(drawn)}"

    def search() -> str:
        with lock:
            word = rng.choice(NO_MATCH_WORDS) if rng.random() < 0.2 else rng.choice(words)
        return fresh("/disclosures?" + urllib.parse.urlencode({"q": word}))

    def filters() -> str:
        with lock:
            args: dict[str, str] = {}
            for name in rng.sample(["village", "venue_type", "category", "status", "severity",
                                    "supervised"], rng.randint(1, 2)):
                if choices.get(name):
                    args[name] = str(rng.choice(choices[name]))
                elif name == "status":
                    args[name] = rng.choice(PUBLIC_STATUSES)
                elif name == "severity":
                    args[name] = rng.choice(SEVERITIES)
                elif name == "supervised":
                    args[name] = "1"
            args["page"] = str(rng.randint(1, 10))
        return fresh("/disclosures?" + urllib.parse.urlencode(args))

    def unit() -> str:
        with lock:
            return fresh(f"/disclosures/unit/{rng.choice(units) if units else 1}")

    def ledger() -> str:
        # A county supervisor working the ledger: one or two filters, a later page.
        with lock:
            args: dict[str, str] = {}
            for name in rng.sample(["village", "category", "status", "open", "overdue",
                                    "severity", "listed"], rng.randint(1, 2)):
                if choices.get(name):
                    args[name] = str(rng.choice(choices[name]))
                elif name == "status":
                    args[name] = rng.choice(["checking", "rectifying", "closed"])
                elif name == "overdue":
                    args[name] = rng.choice(["check", "rectify"])
                elif name == "severity":
                    args[name] = rng.choice(SEVERITIES)
                else:
                    args[name] = "1"
            args["page"] = str(rng.randint(1, 5))
        return "/admin/ledger?" + urllib.parse.urlencode(args)

    def township_pages() -> str:
        # A resident on one township's pages: its list, a filter or a later page, its figures.
        with lock:
            code = rng.choice(codes)
            page = rng.choice(["disclosures", "disclosures", "stats", ""])
            args = {"page": str(rng.randint(1, 10))} if page == "disclosures" else {}
            if page == "disclosures" and rng.random() < 0.5:
                args["status"] = rng.choice(PUBLIC_STATUSES)
        query = ("?" + urllib.parse.urlencode(args)) if args else ""
        return fresh(f"/t/{code}/{page}{query}")

    def open311(page_size: int | None) -> Callable[[], str]:
        def next_url() -> str:
            # A poller asks for what changed since its last poll: a start_date somewhere in
            # the last 90 days, sometimes only the open or closed ones.
            with lock:
                start = time.time() - rng.uniform(60, 89 * 86400)
                status = rng.choice(["", "", "open", "closed"])
            args = {"start_date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))}
            if status:
                args["status"] = status
            if page_size:
                args["page_size"] = str(page_size)
            return fresh("/open311/v2/requests.json?" + urllib.parse.urlencode(args))
        return next_url

    return {"search": search, "filters": filters, "unit": unit, "townships": township_pages,
            "ledger": ledger,
            "open311": open311(None), "open311 200": open311(200)}


def _ids(engine, sql: str) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql)).scalars())


def prewarm(engine) -> None:
    """Read the database into the OS cache before measuring (PostgreSQL's pg_prewarm, a
    contrib module): a serving database has its working set in memory, and a run right after
    seeding or measuring another size would otherwise measure the disk, not the portal (the
    100k county's random unit pages: p99 1.9 s cold, seconds after an 11 GB seed)."""
    if engine.dialect.name != "postgresql":
        return
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
        blocks = conn.execute(text(
            "SELECT sum(pg_prewarm(c.oid::regclass, 'prefetch')) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i')")).scalar()
    print(f"  prewarmed {int(blocks or 0) * 8 / 1024:,.0f} MB into the OS cache in "
          f"{time.perf_counter() - started:.1f} s")


def run(args: argparse.Namespace) -> dict:
    engine = make_engine(args.database_url)
    prewarm(engine)
    removed = remove_bench_tips(engine)
    if removed:
        print(f"  removed {removed} tips posted by earlier runs")
    ids = {
        "villages": _ids(engine, "SELECT id FROM villages WHERE active"),
        "categories": _ids(engine, "SELECT id FROM categories WHERE active"),
    }
    with engine.connect() as conn:
        disclosed = conn.execute(text("SELECT count(*) FROM cases WHERE disclosed")).scalar()
        unit = conn.execute(text("SELECT unit_id FROM cases WHERE disclosed ORDER BY id "
                                 "LIMIT 1")).scalar()
        total_cases = conn.execute(text("SELECT count(*) FROM cases")).scalar()
        first_township = conn.execute(text(
            "SELECT code FROM townships WHERE active ORDER BY sort_order, id LIMIT 1")).scalar()
    from portal.public.disclosures import PER_PAGE

    deep_page = max(1, (disclosed or 0) // PER_PAGE)
    tmp = Path(args.tmp or (ROOT / "instance" / "bench-tmp"))
    tmp.mkdir(parents=True, exist_ok=True)
    server = Server(args.database_url, tmp)
    password = "bench-password-0123456789"
    # The township's staff work in the first township; the county supervisor sees them all.
    for name, role, place in (("benchmod", "moderator", first_township),
                              ("benchsup", "supervisor", first_township),
                              ("benchcounty", "supervisor", "")):
        where = ["--township", place] if place else []
        try:
            subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "users", "create",
                            name, "--role", role, *where], cwd=ROOT, env=server.env,
                           input=f"{password}\n{password}\n", capture_output=True, text=True,
                           check=True)
        except subprocess.CalledProcessError as exc:
            if "已存在" not in (exc.stderr + exc.stdout):
                raise
    trivial = Server(args.database_url, tmp, app=TRIVIAL_APP, health="/")
    varied = varied_urls(engine, random.Random(19))
    server.start()
    photo = photo_jpeg()
    endpoints = [
        Endpoint("baseline: trivial Flask app", "/", port=trivial.port),
        Endpoint("/livez", "/livez"),
        Endpoint("/disclosures page 1", "/disclosures"),
        Endpoint(f"/disclosures page {deep_page}", f"/disclosures?page={deep_page}"),
        Endpoint("search, cached (q=超市)", "/disclosures?q=%E8%B6%85%E5%B8%82"),
        Endpoint("search, varied words", varied["search"]),
        Endpoint("filters + page, cached", "/disclosures?status=closed&page=3"),
        Endpoint("filters + page 1–10, varied", varied["filters"]),
        Endpoint("unit page", f"/disclosures/unit/{unit}"),
        Endpoint("unit page, varied units", varied["unit"]),
        Endpoint("Open311 requests.json, cached", "/open311/v2/requests.json"),
        Endpoint("Open311 requests.json, varied", varied["open311"]),
        Endpoint("Open311 page_size=200, cached", "/open311/v2/requests.json?page_size=200"),
        Endpoint("Open311 page_size=200, varied", varied["open311 200"]),
        Endpoint("/stats", "/stats"),
        Endpoint("county home /", "/"),
        Endpoint(f"/t/{first_township}/ township home", f"/t/{first_township}/"),
        Endpoint(f"/t/{first_township}/disclosures", f"/t/{first_township}/disclosures"),
        Endpoint("township pages, varied townships", varied["townships"]),
        Endpoint("GET /report (the form)", "/report"),
        TrackLookup("/track valid code", "/track"),
        ReportPost("POST /report", ids=ids, photo=None),
        FreshReportPost("POST /report, fresh form (GET + POST)", ids=ids, photo=None),
        ReportPost("POST /report + 1 MB photo", ids=ids, photo=photo),
        ReportPost("POST /report + 12 MP phone photo", ids=ids, photo=_phone_photo()),
        Endpoint("moderation queue", "/admin/queue", login=("benchmod", password)),
        Endpoint("ledger", "/admin/ledger", login=("benchsup", password)),
        Endpoint("ledger with filters, varied (county supervisor)", varied["ledger"],
                 login=("benchcounty", password)),
        Endpoint("supervisor dashboard", "/admin/supervision", login=("benchsup", password)),
        Endpoint("county dashboard (county supervisor)", "/admin/supervision",
                 login=("benchcounty", password)),
        # A township has a handful of supervisors, not sixteen at once: the latency one of
        # them sees, without the queueing of sixteen clients on two shared cores.
        Endpoint("supervisor dashboard, 1 client", "/admin/supervision",
                 login=("benchsup", password), concurrency=1),
        Endpoint("/stats, 1 client", "/stats", concurrency=1),
    ]
    if args.only:
        endpoints = [e for e in endpoints
                     if e is endpoints[0] or any(o in e.name for o in args.only)]
    if args.skip:
        endpoints = [e for e in endpoints
                     if e is endpoints[0] or not any(o in e.name for o in args.skip)]
    figures: list[Figure] = []
    try:
        trivial.start()
        for endpoint in endpoints:  # warm: every worker imports, caches fill
            measure(endpoint.port or server.port, endpoint, concurrency=GUNICORN_WORKERS,
                    duration=1.0)
        for endpoint in endpoints:
            if isinstance(endpoint, ReportPost):
                endpoint.accepted_keys.clear()
            figure = measure(endpoint.port or server.port, endpoint,
                             concurrency=endpoint.concurrency or args.concurrency,
                             duration=args.duration)
            if isinstance(endpoint, ReportPost):
                figure.notes = _loss_check(engine, endpoint.accepted_keys)
            if endpoint.urls:
                figure.notes = "a new URL per request"
            if endpoint.path == "/admin/queue":
                with engine.connect() as conn:
                    pending = conn.execute(text(
                        "SELECT count(*) FROM tips WHERE status = 'pending'")).scalar()
                figure.notes = f"{pending:,} tips pending"
            figures.append(figure)
            print(f"  {figure.name:40s} {figure.rps:8.1f} req/s  p50 {figure.p50_ms:7.1f} ms  "
                  f"p99 {figure.p99_ms:7.1f} ms  errors {figure.errors}  {figure.notes}"
                  + (f"  statuses {figure.statuses}" if figure.errors else ""),
                  flush=True)
        rss = server.worker_rss_mb()
    finally:
        server.stop()
        trivial.stop()
    base = figures[0]
    for figure in figures:
        figure.rps_ratio = figure.rps / base.rps if base.rps else 0.0
        figure.p50_ratio = figure.p50_ms / base.p50_ms if base.p50_ms else 0.0
    print(f"  × trivial (req/s; {base.rps:.1f} req/s is 1.00):")
    for figure in figures:
        print(f"    {figure.name:40s} {figure.rps_ratio:5.2f}")
    result = {
        "label": args.label, "backend": engine.dialect.name, "cases": total_cases,
        "disclosed": disclosed, "concurrency": args.concurrency, "duration": args.duration,
        "workers": GUNICORN_WORKERS, "worker_rss_mb": rss,
        "baseline": "trivial Flask app (bench/trivial.py), same gunicorn settings",
        "machine": f"{os.cpu_count()} cores, {_mem_gb():.0f} GiB",
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "figures": [asdict(f) for f in figures],
    }
    print(f"  gunicorn worker RSS after the run: {', '.join(f'{r:.0f} MB' for r in rss)}")
    return result


def _loss_check(engine, keys: list[str]) -> str:
    if not keys:
        return "no tip accepted"
    found = 0
    # Tips keep only a keyed hash of the form's submission key (the server's RECEIPT_KEY).
    hashed = [submission_hash(BENCH_RECEIPT_KEY, key) for key in keys]
    with engine.connect() as conn:
        for i in range(0, len(hashed), 500):
            chunk = hashed[i:i + 500]
            found += conn.execute(
                text("SELECT count(*) FROM tips WHERE submission_key IN :keys")
                .bindparams(bindparam("keys", expanding=True)),
                {"keys": chunk}).scalar()
    return f"acknowledged {len(keys)}, stored {found}" + ("" if found == len(keys) else " LOST")


def _mem_gb() -> float:
    with open("/proc/meminfo") as fh:
        return int(fh.readline().split()[1]) / 1024 / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--label", default="")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tmp", default="")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME",
                        help="leave out endpoints whose name contains NAME (e.g. search on a "
                             "seed whose search index was not built)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="measure only endpoints whose name contains NAME (and the "
                             "baseline); repeatable; implies --no-save")
    args = parser.parse_args(argv)
    args.no_save = args.no_save or bool(args.only)
    result = run(args)
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        name = f"{result['backend']}-{result['label'] or result['cases']}.json"
        (RESULTS / name).write_text(json.dumps(result, ensure_ascii=False, indent=1))
        print(f"saved bench/results/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
