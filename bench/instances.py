"""Two instances behind nginx (issue 18): two gunicorn instances (deploy/gunicorn.conf.py, two
workers each) share PostgreSQL, Redis and the object store (a moto S3 server when moto_server
is installed, else one upload directory), with nginx in front running deploy/nginx.conf's
proxy rules over plain HTTP on loopback. Every answer names the instance that gave it
(``X-Upstream``, from the test proxy only).

First a resident's and a staff member's journeys, each request landing on the other instance
from the one before: a report with a photo stored by one instance and served to a moderator
by the other; sign-in, CSRF and sign-out across instances; the public report limit counted
across both; a moderator's withdrawal of a disclosure seen on the public page of both within
``PORTAL_PUBLIC_CACHE_SECONDS``; (with ``--figure-lag``) the public figures of both within
the figure cache's minute. Then submitters load the pair (bench/faults.py's, which send one
form in eight again as a phone whose confirmation was lost) while one instance is SIGKILLed,
master and workers at once, and later started again.

    python -m bench.instances --database-url postgresql://... [--seconds 20] [--clients 8]
                              [--prepare] [--figure-lag] [--update-doc]

Prints requests, acknowledged, found, duplicates, 5xx, requests that crossed instances and
what each journey saw; exits non-zero if any promise breaks. PostgreSQL only (two instances
cannot share a SQLite file over a network). Only talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, text

from bench import faults, seed
from bench.http import CSRF_RE, Server, multipart, photo_jpeg
from portal.config import ROOT
from portal.db import make_engine

NGINX_CONF = ROOT / "deploy" / "nginx.conf"
RULES_BEGIN, RULES_END = "# ---- proxy rules begin", "# ---- proxy rules end"
# A Redis database of its own, flushed at the start of every run.
REDIS_URI = "redis://127.0.0.1:6379/7"
BUCKET = "portal-two-instances"
JOURNEY_REPORT_LIMIT = 3
LOAD_LIMIT = "10000000 per hour"
STAFF = {"twomod": "moderator"}
STAFF_PASSWORD = "two-instances-password-0123456789"
LOG_FORMAT = ('$connection $connection_requests "$request_method $uri" $status '
              '"$upstream_addr" "$upstream_status" $request_time')
LOG_RE = re.compile(r'^(\d+) (\d+) "(\S+) (\S+)" (\d+) "([^"]*)" "([^"]*)" ')
# The figure cache recomputes a stale entry at most once a minute (portal/web/caching.py).
FIGURE_LAG_SECONDS = 60.0


# ---------------------------------------------------------------- the pieces


class Instance(Server):
    """One gunicorn instance of the pair: bench.http's production server, on its own port and
    log, in a process group of its own so that it can be killed whole, as a machine dies."""

    def __init__(self, name: str, database_url: str, tmp: Path, shared: dict[str, str]) -> None:
        super().__init__(database_url, tmp / name)
        self.name = name
        self.env.update(shared)

    def start(self) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(gunicorn), "--config", str(ROOT / "deploy" / "gunicorn.conf.py"),
                 "--bind", f"127.0.0.1:{self.port}"],
                cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=log,
                start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"instance {self.name} exited: "
                                   + self.log_path.read_text(errors="replace")[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"GET /livez HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    if conn.recv(12).endswith(b"200"):
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"instance {self.name} did not start")

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once: requests in flight are cut."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)


SHIPPED_OPENDATA = "/var/lib/portal/uploads/opendata/"


def proxy_rules(uploads: Path | None = None) -> str:
    """The shipped proxy rules (deploy/nginx.conf between its markers), for plain HTTP: the
    app must see what it sees behind TLS, so X-Forwarded-Proto says https; with ``uploads``,
    the open-data location serves that directory's files."""
    conf = NGINX_CONF.read_text()
    begin, end = conf.index(RULES_BEGIN), conf.index(RULES_END)
    rules = conf[begin + len(RULES_BEGIN):end]
    rules = rules.replace("X-Forwarded-Proto $scheme", "X-Forwarded-Proto https")
    if uploads is not None:
        rules = rules.replace(SHIPPED_OPENDATA, f"{uploads / 'opendata'}/")
    return rules.replace("/srv/portal/static/", f"{ROOT / 'static'}/")


class Proxy:
    """nginx in the foreground (never the system's service), on a free loopback port."""

    def __init__(self, tmp: Path, upstreams: list[int], *, uploads: Path | None = None
                 ) -> None:
        self.tmp = tmp
        self.port = _free_port()
        self.upstreams = upstreams
        # The instances' upload directory: the shipped internal location that serves the
        # open-data files (X-Accel-Redirect) points at its opendata/ instead of /var/lib.
        self.uploads = uploads
        self.process: subprocess.Popen[bytes] | None = None
        self.access_log = tmp / "access.log"
        self.error_log = tmp / "error.log"

    def config(self) -> str:
        servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;"
                            for port in self.upstreams)
        user = "user root;" if os.geteuid() == 0 else ""  # workers must reach a 0700 tmp dir
        temp = "\n".join(f"    {kind}_temp_path {self.tmp / kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return f"""{user}
daemon off;
worker_processes 2;
pid {self.tmp / 'nginx.pid'};
error_log {self.error_log} warn;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
{temp}
    log_format bench '{LOG_FORMAT}';
    access_log {self.access_log} bench;
    upstream portal {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{self.port};
        server_name 127.0.0.1;
        # Which instance answered (test proxy only): "a, b" when nginx tried a, then b.
        add_header X-Upstream $upstream_addr always;
{proxy_rules(self.uploads)}
    }}
}}
"""

    def start(self) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (apt-get install -y nginx)")
        self.tmp.mkdir(parents=True, exist_ok=True)
        conf = self.tmp / "nginx.conf"
        conf.write_text(self.config())
        check = subprocess.run([binary, "-t", "-p", str(self.tmp), "-c", str(conf)],
                               capture_output=True, text=True)
        if check.returncode:
            raise RuntimeError(f"nginx refused the test config: {check.stderr}")
        self.process = subprocess.Popen([binary, "-p", str(self.tmp), "-c", str(conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.process, "nginx")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish what it holds
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def lines(self) -> list[re.Match[str]]:
        if not self.access_log.exists():
            return []
        return [m for line in self.access_log.read_text(errors="replace").splitlines()
                if (m := LOG_RE.match(line))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


@contextmanager
def object_store(tmp: Path) -> Iterator[dict[str, str]]:
    """The settings of the store both instances use: a bucket on a moto S3 server started
    here when moto_server is installed, else one shared directory. Switching is the one
    setting PORTAL_UPLOAD_STORE."""
    beside = Path(sys.executable).with_name("moto_server")
    server = str(beside) if beside.exists() else shutil.which("moto_server")
    if server is None:
        yield {"PORTAL_UPLOAD_DIR": str(tmp / "uploads"), "PORTAL_UPLOAD_STORE": ""}
        return
    port = _free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    with (tmp / "moto.log").open("wb") as log:
        process = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_port(port, process, "moto_server")
        settings = {"PORTAL_UPLOAD_STORE": f"s3://{BUCKET}/uploads",
                    "PORTAL_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                    "PORTAL_S3_REGION": "us-east-1", "PORTAL_S3_ACCESS_KEY_ID": "testing",
                    "PORTAL_S3_SECRET_ACCESS_KEY": "testing-secret",
                    "PORTAL_UPLOAD_DIR": str(tmp / "uploads-unused")}
        import boto3

        boto3.client("s3", endpoint_url=settings["PORTAL_S3_ENDPOINT_URL"],
                     region_name=settings["PORTAL_S3_REGION"],
                     aws_access_key_id=settings["PORTAL_S3_ACCESS_KEY_ID"],
                     aws_secret_access_key=settings["PORTAL_S3_SECRET_ACCESS_KEY"],
                     ).create_bucket(Bucket=BUCKET)
        yield settings
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def store_of(env: dict[str, str]) -> Any:
    """The store the instances use, built from their settings as the app builds it."""
    from portal.config import load_settings
    from portal.web.files import store_from_settings

    return store_from_settings(load_settings(environ=env))


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    instance: str  # the instance that answered ("b" when nginx tried a first), "" for nginx

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


class Visitor:
    """A browser: one keep-alive connection to the proxy, its cookies, and the Referer a
    browser sends with a form (CSRF over HTTPS checks it). ``source`` is its address."""

    def __init__(self, proxy: Proxy, names: dict[str, str], source: str = "127.0.0.1") -> None:
        self.proxy, self.names, self.source = proxy, names, source
        self.cookies: dict[str, str] = {}
        self.conn = self._connect()
        self.trail: list[str] = []  # which instance answered each request, in order

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=60,
                                          source_address=(self.source, 0))

    def copy(self) -> Visitor:
        other = Visitor(self.proxy, self.names, self.source)
        other.cookies = dict(self.cookies)
        return other

    def send(self, method: str, path: str, body: bytes | None = None,
             content_type: str | None = None, headers: dict[str, str] | None = None,
             referer: str | None = None) -> Answer:
        sent = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
                **(headers or {})}
        if content_type:
            sent["Content-Type"] = content_type
        if referer:
            sent["Referer"] = f"https://127.0.0.1:{self.proxy.port}{referer}"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=sent)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = self._connect()
                if attempt:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookie = rest.split(";", 1)[0]
                if cookie and "01 jan 1970" not in value.lower():
                    self.cookies[name] = cookie
                else:
                    self.cookies.pop(name, None)
        upstream = (response.getheader("X-Upstream") or "").split(",")[-1].strip()
        answer = Answer(response.status, data, {k.lower(): v for k, v in response.getheaders()},
                        self.names.get(upstream, ""))
        self.trail.append(answer.instance)
        return answer

    def next_on(self, instance: str) -> None:
        """Make the next request land on ``instance``: round-robin alternates, so cheap
        probes until one lands on the other instance."""
        for _ in range(4):
            if self.send("GET", "/livez").instance != instance:
                return
        raise RuntimeError(f"could not steer a request to instance {instance}")

    def on(self, instance: str, method: str, path: str, **kwargs: Any) -> Answer:
        self.next_on(instance)
        answer = self.send(method, path, **kwargs)
        if answer.instance != instance:
            raise RuntimeError(f"{method} {path} landed on {answer.instance!r}, "
                               f"not on {instance}")
        return answer

    def csrf(self, instance: str, path: str) -> str:
        answer = self.on(instance, "GET", path)
        match = CSRF_RE.search(answer.text)
        if not match:
            raise RuntimeError(f"no CSRF token on {path} ({answer.status})")
        return match.group(1)

    def post_form(self, instance: str, path: str, fields: dict[str, str],
                  referer: str) -> Answer:
        return self.on(instance, "POST", path, body=urllib.parse.urlencode(fields).encode(),
                       content_type="application/x-www-form-urlencoded", referer=referer)


# ---------------------------------------------------------------- the journeys


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Pair:
    """Two instances, the proxy, the database and the store: what every journey works on."""

    database_url: str
    tmp: Path
    shared: dict[str, str]
    instances: dict[str, Instance] = field(default_factory=dict)
    proxy: Proxy | None = None
    checks: list[Check] = field(default_factory=list)
    ids: dict[str, list[int]] = field(default_factory=dict)

    @property
    def names(self) -> dict[str, str]:
        return {f"127.0.0.1:{i.port}": name for name, i in self.instances.items()}

    def visitor(self, source: str = "127.0.0.1") -> Visitor:
        assert self.proxy is not None
        return Visitor(self.proxy, self.names, source)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)

    def engine(self) -> Any:
        return make_engine(self.database_url)


def _report_fields(pair: Pair, token: str, key: str) -> dict[str, str]:
    return {"csrf_token": token, "submission_key": key,
            "village": str(pair.ids["villages"][0]), "category": str(pair.ids["categories"][0]),
            "unit_name": "两实例演练店",
            "description": "两实例演练：安全出口被杂物堵塞，需要处理。", "website": ""}


def resident_with_photo(pair: Pair, staff: Visitor) -> None:
    """The form from a, the report with its photo to b, the photo to a moderator from a."""
    resident = pair.visitor()
    token = resident.csrf("a", "/report")
    body, content_type = multipart(_report_fields(pair, token, secrets.token_urlsafe(16)),
                                   {"photos": ("photo.jpg", photo_jpeg(200 * 1024))})
    answer = resident.on("b", "POST", "/report", body=body, content_type=content_type)
    code = faults._receipt(answer.body)
    pair.check("report with a photo, form from a, posted to b", answer.status == 200
               and code is not None, f"{answer.status}, receipt {'shown' if code else 'missing'}")
    if code is None:
        return
    from portal.domain.reporting.identity import receipt_hash

    engine = pair.engine()
    with engine.connect() as conn:
        photo = conn.execute(text(
            "SELECT a.id, a.stored_name FROM attachments a JOIN tips t ON t.id = a.tip_id "
            "WHERE t.receipt_hash = :h"), {"h": receipt_hash(seed.BENCH_RECEIPT_KEY, code)}
        ).first()
    engine.dispose()
    if photo is None:
        pair.check("the photo was stored", False, "no attachment row for the tip")
        return
    stored = store_of(pair.instances["a"].env).get(photo.stored_name)
    shown = staff.on("a", "GET", f"/admin/disclosures/photos/{photo.id}")
    pair.check("the photo b stored, served to a moderator by a",
               shown.status == 200 and shown.body == stored,
               f"{shown.status}, {len(shown.body)} bytes, same as the store's: "
               f"{shown.body == stored}")


def staff_signs_in(pair: Pair) -> Visitor:
    staff = pair.visitor()
    name = next(iter(STAFF))
    token = staff.csrf("a", "/admin/login")
    answer = staff.post_form("b", "/admin/login", {"csrf_token": token, "username": name,
                                                   "password": STAFF_PASSWORD, "next": ""},
                             referer="/admin/login")
    pair.check("sign-in: the form from a, posted to b", answer.status in (302, 303),
               f"{answer.status} → {answer.headers.get('location', '')}")
    queue = staff.on("a", "GET", "/admin/queue")
    pair.check("signed in on a by b's answer", queue.status == 200, f"queue {queue.status}")
    return staff


def staff_signs_out(pair: Pair, staff: Visitor) -> None:
    old = staff.copy()
    token = staff.csrf("a", "/admin/")
    answer = staff.post_form("b", "/admin/logout", {"csrf_token": token}, referer="/admin/")
    pair.check("sign-out: the form from a, posted to b", answer.status in (302, 303),
               str(answer.status))
    again = old.on("a", "GET", "/admin/queue")
    refused = again.status in (302, 303) and "/admin/login" in again.headers.get("location", "")
    pair.check("the signed-out cookie refused by a", refused,
               f"{again.status} → {again.headers.get('location', '')}")


def report_limit(pair: Pair) -> None:
    """One resident (an address of its own) sends the limit's worth of reports, alternating
    instances; the next is refused on a, and the one after on b."""
    resident = pair.visitor(source="127.0.0.2")
    statuses: list[tuple[str, int]] = []
    for i in range(JOURNEY_REPORT_LIMIT + 2):
        instance = "ab"[i % 2]
        token = resident.csrf("ab"[(i + 1) % 2], "/report")
        body, content_type = multipart(_report_fields(pair, token, secrets.token_urlsafe(16)),
                                       {})
        statuses.append((instance, resident.on(instance, "POST", "/report", body=body,
                                               content_type=content_type).status))
    accepted = [s for _, s in statuses[:JOURNEY_REPORT_LIMIT]]
    refused = statuses[JOURNEY_REPORT_LIMIT:]
    pair.check(f"report limit ({JOURNEY_REPORT_LIMIT} per hour) counted across both",
               accepted == [200] * JOURNEY_REPORT_LIMIT and [s for _, s in refused] == [429, 429]
               and {i for i, _ in refused} == {"a", "b"},
               " ".join(f"{i}:{s}" for i, s in statuses))


def _disclosed_unit(pair: Pair) -> tuple[int, int]:
    engine = pair.engine()
    with engine.connect() as conn:
        row = conn.execute(text(
            # A unit that signed its public commitment keeps its page after the withdrawal
            # (issue 22): it would not be "gone".
            "SELECT min(id), unit_id FROM cases WHERE disclosed AND unit_id NOT IN "
            "(SELECT unit_id FROM self_checks) GROUP BY unit_id "
            "HAVING count(*) = 1 ORDER BY unit_id LIMIT 1")).first()
    engine.dispose()
    if row is None:
        raise RuntimeError("no unit with exactly one disclosed case: seed the database")
    return row[0], row[1]


def disclosure_lag(pair: Pair, staff: Visitor, lag: float) -> None:
    """A moderator withdraws a disclosure through a; the unit's public page must be gone from
    both instances within the documented lag. Before it, a page's ETag from one instance is
    answered 304 by the other."""
    case_id, unit_id = _disclosed_unit(pair)
    page = f"/disclosures/unit/{unit_id}"
    public = pair.visitor()
    # Each instance reads the data version at most once per lag: right after the journey's
    # last write one may still hold the older one. Once the lag has passed, both name the
    # same version, and a page's ETag from one is the other's.
    time.sleep(lag + 0.25)
    first = public.on("a", "GET", page)
    etag = first.headers.get("etag", "")
    second = public.on("b", "GET", page, headers={"If-None-Match": etag})
    pair.check("a's ETag answered 304 by b", first.status == 200 and second.status == 304,
               f"{first.status}, then {second.status}")
    token = staff.csrf("b", f"/admin/disclosures/{case_id}")
    withdrawn = staff.post_form("a", f"/admin/disclosures/{case_id}/withdraw",
                                {"csrf_token": token, "reason": "两实例演练：撤回公开"},
                                referer=f"/admin/disclosures/{case_id}")
    changed_at = time.monotonic()
    if withdrawn.status not in (302, 303):
        pair.check("withdrawal: the form from b, posted to a", False, str(withdrawn.status))
        return
    seen: list[tuple[float, str, int]] = []
    while time.monotonic() - changed_at < lag + 2.0:
        answer = public.send("GET", page, headers={"If-None-Match": etag})
        seen.append((time.monotonic() - changed_at, answer.instance, answer.status))
        time.sleep(0.05)
    stale = [t for t, _, status in seen if status in (200, 304)]
    last_stale = max(stale, default=0.0)
    after = {i for t, i, status in seen if t > lag + 0.25 and status == 404}
    pair.check(f"withdrawal seen on both within {lag:g} s",
               last_stale <= lag + 0.25 and after == {"a", "b"},
               f"the old page last shown {last_stale:.2f} s after the change; "
               f"{len(seen)} looks, gone on {'+'.join(sorted(after))}")


def _tips_total(answer: Answer) -> int | None:
    match = re.search(r"<dt>收到举报</dt><dd>(\d+)</dd>", answer.text)
    return int(match.group(1)) if match else None


def figure_lag(pair: Pair, limit: float) -> None:
    """The public figures (the figure cache, like the dashboard's) of every process of both
    instances show a new tip within the cache's documented minute."""
    public = pair.visitor()
    before = set()
    for _ in range(12):  # every worker of both instances computes its figures
        before.add(_tips_total(public.send("GET", "/stats")))
    resident = pair.visitor(source="127.0.0.3")
    token = resident.csrf("a", "/report")
    body, content_type = multipart(_report_fields(pair, token, secrets.token_urlsafe(16)), {})
    resident.on("b", "POST", "/report", body=body, content_type=content_type)
    changed_at = time.monotonic()
    expected = max(v for v in before if v is not None) + 1
    last_old, fresh_run = 0.0, 0
    while time.monotonic() - changed_at < limit + 5 and fresh_run < 16:
        value = _tips_total(public.send("GET", "/stats"))
        if value is not None and value >= expected:
            fresh_run += 1
        else:
            fresh_run, last_old = 0, time.monotonic() - changed_at
        time.sleep(0.25)
    pair.check(f"public figures on both within {limit:g} s", fresh_run >= 16,
               f"before {sorted(v for v in before if v is not None)}, old figure last shown "
               f"{last_old:.1f} s after the new tip")


def static_from_nginx(pair: Pair) -> None:
    answer = pair.visitor().send("GET", "/static/css/site.css")
    pair.check("static files served by nginx", answer.status == 200 and not answer.instance
               and "x-upstream" not in answer.headers,
               f"{answer.status}, {answer.headers.get('cache-control', '')}")


def healthz(pair: Pair) -> None:
    visitor = pair.visitor()
    answers = [visitor.send("GET", "/healthz") for _ in range(2)]
    pair.check("/healthz on both", all(a.status == 200 and '"ok"' in a.text for a in answers)
               and {a.instance for a in answers} == {"a", "b"},
               " | ".join(f"{a.instance}: {a.text.strip()[:120]}" for a in answers))


# ---------------------------------------------------------------- load with a killed instance


@dataclass
class LoadResult:
    sent: int
    tally: faults.Tally
    events: list[str]
    killed_at: float
    restarted_at: float | None
    began: float
    audit: dict[str, int]
    log: dict[str, int]


def reader(pair: Pair, stop: float, statuses: dict[int, int], lock: threading.Lock) -> None:
    """A visitor reading public pages throughout."""
    visitor = pair.visitor()
    pages = ["/disclosures", "/", "/stats", "/report"]
    while time.monotonic() < stop:
        try:
            status = visitor.send("GET", random.choice(pages)).status
        except (OSError, http.client.HTTPException):
            status = 0
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
        time.sleep(0.02)


def load_and_kill(pair: Pair, seconds: float, clients: int, restart: bool) -> dict[str, Any]:
    assert pair.proxy is not None
    engine = pair.engine()
    with engine.connect() as conn:
        before = set(conn.execute(text("SELECT id FROM tips")).scalars())
    engine.dispose()
    warm = pair.visitor()
    for _ in range(8):  # every worker of both instances has answered once
        warm.send("GET", "/report")
    lines_before = len(pair.proxy.lines())
    tally = faults.Tally()
    load = faults.Load(photo=faults._small_photo())
    began = time.monotonic()
    stop = began + seconds
    read_statuses: dict[int, int] = {}
    read_lock = threading.Lock()
    threads = [threading.Thread(target=faults.submitter,
                                args=(pair.proxy.port, pair.ids, stop, tally, load))
               for _ in range(clients)]
    threads += [threading.Thread(target=reader, args=(pair, stop, read_statuses, read_lock))
                for _ in range(2)]
    for t in threads:
        t.start()
    events = []
    time.sleep(seconds * 0.4)
    killed = pair.instances["a"]
    killed.kill()
    killed_at = time.monotonic() - began
    events.append(f"instance a SIGKILLed (master and workers) at {killed_at:.1f} s")
    restarted_at = None
    if restart:
        time.sleep(seconds * 0.2)
        killed.start()
        restarted_at = time.monotonic() - began
        events.append(f"instance a started again at {restarted_at:.1f} s")
    for t in threads:
        t.join()
    lines = pair.proxy.lines()[lines_before:]
    names = pair.names
    by_instance: dict[str, int] = {}
    crossed = retried = proxy_5xx = 0
    previous: dict[str, str] = {}
    for m in lines:
        connection, status, upstream = m.group(1), int(m.group(5)), m.group(6)
        last = names.get(upstream.split(",")[-1].strip(), "-")
        by_instance[last] = by_instance.get(last, 0) + 1
        if "," in upstream:
            retried += 1
        if status >= 500:
            proxy_5xx += 1
        if previous.get(connection, last) != last:
            crossed += 1
        previous[connection] = last
    audit = _audit(pair, tally, before)
    reads_5xx = sum(n for status, n in read_statuses.items() if status >= 500 or status == 0)
    return {
        "events": events, "requests": len(lines), "sent": tally.sent,
        "acknowledged": len(tally.acknowledged), **audit,
        "five_xx": tally.five_xx + reads_5xx, "proxy_5xx": proxy_5xx,
        "designed_503": tally.designed_503, "stack_traces": tally.traces,
        "resubmitted": tally.resubmitted, "resubmit_without_code": tally.resubmit_without_code,
        "connection_errors": tally.connection_errors, "reads": sum(read_statuses.values()),
        "crossed": crossed, "retried_on_other": retried,
        "by_instance": by_instance, "seconds": seconds, "clients": clients,
    }


def _audit(pair: Pair, tally: faults.Tally, before: set[int]) -> dict[str, int]:
    """faults._audit's promises, on whichever store the pair shares (a bucket or a
    directory): every receipt finds its tip, none twice, no orphan once `uploads gc` ran, no
    stored photo without its file."""
    from portal.domain.reporting.identity import receipt_hash

    engine = pair.engine()
    with engine.connect() as conn:
        hashes = [receipt_hash(seed.BENCH_RECEIPT_KEY, code) for code in tally.acknowledged]
        found = 0
        for i in range(0, len(hashes), 500):
            found += conn.execute(
                text("SELECT count(*) FROM tips WHERE receipt_hash IN :h").bindparams(
                    bindparam("h", expanding=True)), {"h": hashes[i:i + 500]}).scalar() or 0
        duplicates = conn.execute(text(
            "SELECT count(*) FROM (SELECT submission_key FROM tips WHERE submission_key IS NOT "
            "NULL GROUP BY submission_key HAVING count(*) > 1) d")).scalar() or 0
        new_tips = set(conn.execute(text("SELECT id FROM tips")).scalars()) - before
        photos = list(conn.execute(text(
            "SELECT tip_id, stored_name, thumbnail_name FROM attachments")))
    engine.dispose()
    survivor = pair.instances["b"]
    store = store_of(survivor.env)
    names = {n for _tip, stored, thumb in photos for n in (stored, thumb) if n}
    left_by_crash = len(set(store.names()) - names)
    survivor.flask("uploads", "gc", "--grace-hours", "0")
    files = set(store.names())
    return {"found": found, "duplicates": duplicates, "new_tips": len(new_tips),
            "left_by_crash": left_by_crash, "orphan_uploads": len(files - names),
            "missing_files": sum(1 for tip, stored, thumb in photos if tip in new_tips
                                 for n in (stored, thumb) if n and n not in files)}


def kept_promises(result: dict[str, Any]) -> bool:
    return (result["acknowledged"] > 0 and result["found"] == result["acknowledged"]
            and result["duplicates"] == 0 and result["five_xx"] == 0
            and result["proxy_5xx"] == 0 and result["stack_traces"] == 0
            and result["orphan_uploads"] == 0 and result["missing_files"] == 0
            and result["resubmit_without_code"] == 0
            and result["by_instance"].get("b", 0) > 0)


# ---------------------------------------------------------------- the run


def _shared_settings(store: dict[str, str], report_limit: str) -> dict[str, str]:
    return {**store, "PORTAL_WORKERS": "2", "PORTAL_PROXY_COUNT": "1",
            "PORTAL_RATELIMIT_STORAGE_URI": REDIS_URI,
            "PORTAL_REPORT_RATE_LIMIT": report_limit,
            "PORTAL_REPORT_POST_RATE_LIMIT": LOAD_LIMIT, "PORTAL_TRACK_RATE_LIMIT": LOAD_LIMIT,
            # A SIGKILLed instance leaves no time for grace; a stopped one should not wait.
            "PORTAL_GRACEFUL_TIMEOUT": "10"}


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URI, socket_timeout=2).flushdb()


def _ensure_staff(instance: Instance) -> None:
    for name, role in STAFF.items():
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "users", "create", name,
             "--role", role], cwd=ROOT, env=instance.env,
            input=f"{STAFF_PASSWORD}\n{STAFF_PASSWORD}\n", capture_output=True, text=True)
        if done.returncode and "已存在" not in done.stderr + done.stdout:
            raise RuntimeError(f"users create {name}: {done.stderr}")


def _start_pair(pair: Pair, report_limit: str) -> None:
    for name in ("a", "b"):
        if name in pair.instances:
            pair.instances[name].env.update(_shared_settings(pair.shared, report_limit))
        else:
            pair.instances[name] = Instance(name, pair.database_url, pair.tmp,
                                            _shared_settings(pair.shared, report_limit))
    starters = [threading.Thread(target=i.start) for i in pair.instances.values()]
    for t in starters:
        t.start()
    for t in starters:
        t.join()
    for i in pair.instances.values():
        if i.process is None or i.process.poll() is not None:
            raise RuntimeError(f"instance {i.name} did not start")


def _stop_pair(pair: Pair) -> None:
    stoppers = [threading.Thread(target=i.stop) for i in pair.instances.values()
                if i.process and i.process.poll() is None]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join()


def run(args: argparse.Namespace) -> dict[str, Any]:
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("two instances share PostgreSQL: give a postgresql:// URL")
    tmp = Path(args.tmp or ROOT / "instance" / "instances-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if args.prepare:
        engine = seed.prepare(args.database_url, fresh=True)
        seed.seed(engine, args.cases, random.Random(7))
        engine.dispose()
    ids = faults.form_choices(args.database_url)
    _flush_redis()
    started = time.monotonic()
    with object_store(tmp / "store") as store:
        pair = Pair(args.database_url, tmp, store, ids=ids)
        try:
            _start_pair(pair, f"{JOURNEY_REPORT_LIMIT} per hour")
            _ensure_staff(pair.instances["a"])
            pair.proxy = Proxy(tmp / "nginx", [i.port for i in pair.instances.values()])
            pair.proxy.start()
            backend = "bucket (moto S3)" if store.get("PORTAL_UPLOAD_STORE") else \
                "one shared upload directory"
            print(f"two instances (a :{pair.instances['a'].port}, b :{pair.instances['b'].port})"
                  f" behind nginx :{pair.proxy.port}; uploads in {backend}", flush=True)
            healthz(pair)
            static_from_nginx(pair)
            staff = staff_signs_in(pair)
            resident_with_photo(pair, staff)
            report_limit(pair)
            disclosure_lag(pair, staff, float(pair.instances["a"].env.get(
                "PORTAL_PUBLIC_CACHE_SECONDS", "1.0")))
            staff_signs_out(pair, staff)
            if args.figure_lag:
                figure_lag(pair, FIGURE_LAG_SECONDS + 5)
            journeys = [c for c in pair.checks]
            # The load needs the report limit out of the way: both restarted with it raised.
            _stop_pair(pair)
            _start_pair(pair, LOAD_LIMIT)
            print(f"load: {args.clients} submitters and 2 readers for {args.seconds:g} s, "
                  "one instance killed", flush=True)
            load = load_and_kill(pair, args.seconds, args.clients, restart=not args.no_restart)
        finally:
            _stop_pair(pair)
            if pair.proxy:
                pair.proxy.stop()
    ok = all(c.ok for c in journeys) and kept_promises(load)
    return {"ok": ok, "journeys": [c.__dict__ for c in journeys], "load": load,
            "backend": backend, "elapsed": time.monotonic() - started,
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{os.cpu_count()} cores"}


def summary(load: dict[str, Any]) -> str:
    return ("requests {requests} (public reads {reads}), reports sent {sent}, acknowledged "
            "{acknowledged}, found afterwards {found}, duplicates {duplicates}, 5xx {five_xx} "
            "(at the proxy {proxy_5xx}), designed 503 {designed_503}, stack traces "
            "{stack_traces}, forms sent again after a lost confirmation {resubmitted} (without "
            "their receipt {resubmit_without_code}), requests that crossed instances {crossed}, "
            "sent again by nginx to the other instance {retried_on_other}, answered by "
            "instance {by_instance}, orphan uploads {orphan_uploads} (left by the kill before "
            "`uploads gc` {left_by_crash}), stored photos missing their file "
            "{missing_files}").format(**load)


DOC = ROOT / "docs" / "performance.md"
FIGURES_NOTE = """
The public figures do not catch up on a quiet site: the figure cache serves the old figures
while it recomputes, and `caching.conditional` keeps the `/stats` (and home) page rendered
with them under the new data version's ETag, so every process goes on serving that page
until the next write of any kind moves the data version (or midnight). The documented lag
(a minute) holds only while writes keep coming; the fix belongs in `portal/web/caching.py`
(not cache a page drawn with figures older than its ETag, or put the figures' own stamp in
the ETag). The dashboard is not page-cached; this run did not measure it.
"""
SECTION = "## Two instances behind nginx (issue 18)"


def update_doc(result: dict[str, Any]) -> None:
    """Write this run's figures into docs/performance.md's section of their own (replacing
    it, or appended at the end); nothing else of the file changes."""
    load = result["load"]
    heads = ["requests", "reports acknowledged", "found", "duplicates", "5xx",
             "crossed instances", "sent again to the other instance by nginx",
             "answered by a / b"]
    values = [load["requests"], load["acknowledged"], load["found"], load["duplicates"],
              load["five_xx"], load["crossed"], load["retried_on_other"],
              f"{load['by_instance'].get('a', 0)} / {load['by_instance'].get('b', 0)}"]
    figures = "\n".join(["| " + " | ".join(heads) + " |", "|---" * len(heads) + "|",
                         "| " + " | ".join(str(v) for v in values) + " |"])
    rows = "\n".join(f"| {c['name']} | {'yes' if c['ok'] else '**no**'} | "
                     f"{c['detail'].replace('|', '/')} |" for c in result["journeys"])
    figures_note = next((FIGURES_NOTE for c in result["journeys"]
                         if c["name"].startswith("public figures") and not c["ok"]), "")
    section = f"""{SECTION}

`python -m bench.instances --database-url postgresql://… --prepare --figure-lag
--update-doc` (short form: `tests/reliability/test_two_instances.py`). Two gunicorn
instances (`deploy/gunicorn.conf.py`, two workers each) share PostgreSQL, Redis (rate limits)
and the upload store ({result['backend']}); nginx runs the proxy rules of
`deploy/nginx.conf` over plain HTTP on loopback, sending `X-Forwarded-Proto: https` so the app
is in production mode as behind TLS (Secure cookies, CSRF with its Referer check). Each
journey's consecutive requests are steered to alternate instances and each answer is checked
for the instance that gave it. Measured {result['when']} on {result['machine']}.

| journey | held | what was seen |
|---|---|---|
{rows}
{figures_note}
Then {load['clients']} submitters (bench/faults.py's: one form in eight sent again as after
a lost confirmation, one in three with a photo) and two readers of public pages for
{load['seconds']:g} s; {'; '.join(load['events'])}.

{figures}

"Crossed" counts requests whose previous request on the same client connection was answered
by the other instance. Reports in flight on the killed instance are sent again by nginx to the
other one (`location = /report` allows it: the form is idempotent by its submission key),
which stores each once or finds it stored; other requests in flight there were GETs, which
nginx retries anyway. After the run `uploads gc --grace-hours 0` left {load['orphan_uploads']}
orphan files (the kill had left {load['left_by_crash']}), and {load['missing_files']} stored
photos lacked their file.
"""
    text_now = DOC.read_text()
    start = text_now.find(SECTION)
    if start < 0:
        DOC.write_text(text_now.rstrip("\n") + "\n\n" + section)
        return
    rest = text_now[start + len(SECTION):]
    following = re.search(r"^## ", rest, re.M)
    end = start + len(SECTION) + following.start() if following else len(text_now)
    DOC.write_text(text_now[:start] + section + ("\n" + text_now[end:] if following else ""))


def main(argv: list[str] | None = None, *, report: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--prepare", action="store_true",
                        help="empty the database and seed it (--cases) first")
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--figure-lag", action="store_true",
                        help="also wait for the figure cache of every process (about 1 min)")
    parser.add_argument("--no-restart", action="store_true",
                        help="leave the killed instance down")
    parser.add_argument("--update-doc", action="store_true")
    parser.add_argument("--tmp", default="")
    args = parser.parse_args(argv)
    result = run(args)
    report(summary(result["load"]))
    report("PASS" if result["ok"] else "FAIL")
    if args.update_doc:
        update_doc(result)
        report(f"updated {DOC.relative_to(ROOT)}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
