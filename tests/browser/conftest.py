"""Browser tests: the app as a real server process on a free port, a fresh database, and
Debian's Chromium driven by Playwright. Without Chromium they skip and say why."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal.config import ROOT
from tests.conftest import TEST_FIELD_KEY, TEST_SECRET

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: install Debian's `chromium` and `fonts-wqy-microhei` "
        "(as .ci/run does) to run the browser tests",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture(scope="session", autouse=True)
def _once_per_ci_run() -> None:
    """The live server below runs on a SQLite file of its own whatever TEST_DATABASE_URL
    says: the SQLite pass of `.ci/run` ran these already, and a second run would test
    nothing new while costing CI minutes (the PostgreSQL paths are the suite's)."""
    if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
        pytest.skip("the browser tests drive their own server on SQLite: they run in the "
                    "SQLite pass")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, tmp: Path) -> None:
        self.db_path = tmp / "browser.db"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PORTAL_ENV": "testing",
            "PORTAL_SECRET_KEY": TEST_SECRET,
            "PORTAL_FIELD_KEYS": TEST_FIELD_KEY,
            "PORTAL_RECEIPT_KEY": "browser-receipt-key-long-enough-0123456789",
            "PORTAL_DATABASE_URL": f"sqlite:///{self.db_path}",
            "PORTAL_UPLOAD_DIR": str(tmp / "uploads"),
            "PORTAL_REPORT_RATE_LIMIT": "1000 per hour",
            # People in the journey act and look at once; no public-page lag.
            "PORTAL_PUBLIC_CACHE_SECONDS": "0",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def flask(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT, env=self.env, input=input, capture_output=True, text=True, check=True,
        )
        return result.stdout

    def start(self) -> None:
        self.flask("db", "upgrade")
        self.flask("portal", "load-jurisdiction", "portal/data/demo_jurisdiction.toml")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(self.port),
             "--no-reload", "--with-threads"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the app server did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)

    def query(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.db_path) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("live"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--lang=zh-CN", "--disable-component-update", "--disable-sync",
                  "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True,
                                  has_touch=True, locale="zh-CN")
    yield context.new_page()
    context.close()


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    yield context.new_page()
    context.close()


def screenshot(page, name: str) -> None:
    """Small PNGs for the README, made by the test run itself."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def axe_violations(page) -> list[dict]:
    """Serious and critical axe-core violations on the current page."""
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed at {AXE}: run `npm install` in tests/browser")
    # evaluate() is not subject to the page's CSP, which (rightly) refuses inline scripts.
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
