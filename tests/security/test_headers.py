"""Headers and cookies every response carries."""

from __future__ import annotations

import pytest

from portal import create_app, migrate
from portal.config import ConfigError
from tests.conftest import TEST_FIELD_KEY, TEST_SECRET


def test_public_pages_carry_a_strict_policy(client) -> None:
    response = client.get("/report")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "geolocation=(self)" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers, "only in production"


def test_no_template_needs_inline_script(client) -> None:
    for path in ("/", "/report", "/track"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and " onclick=" not in html and 'style="' not in html


def _production_app(tmp_path, **extra):
    return create_app({
        "ENV": "production", "SECRET_KEY": TEST_SECRET, "FIELD_KEYS": TEST_FIELD_KEY,
        "RECEIPT_KEY": "r" * 40, "AUDIT_KEY": "a" * 40, "PUBLIC_HOSTS": "localhost",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "UPLOAD_DIR": str(tmp_path / "up"), **extra,
    })


def test_production_sends_hsts_and_secure_cookies(tmp_path) -> None:
    app = _production_app(tmp_path)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    response = app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_proxy_fix_trusts_exactly_the_configured_proxies(tmp_path) -> None:
    app = _production_app(tmp_path, PROXY_COUNT=1)
    seen = {}

    @app.get("/whoami")
    def whoami():
        from flask import request

        seen["addr"] = request.remote_addr
        return "ok"

    app.test_client().get("/whoami", headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.7"},
                          environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert seen["addr"] == "198.51.100.7", "only the last hop, added by our own proxy"

    direct = _production_app(tmp_path)

    @direct.get("/whoami")
    def whoami_direct():
        from flask import request

        seen["addr"] = request.remote_addr
        return "ok"

    direct.test_client().get("/whoami", headers={"X-Forwarded-For": "203.0.113.9"},
                             environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert seen["addr"] == "10.0.0.2", "without proxies a forged header is ignored"


def test_production_refuses_missing_identity_keys(tmp_path) -> None:
    import pytest

    from portal.config import ConfigError

    with pytest.raises(ConfigError, match="PORTAL_FIELD_KEYS"):
        _production_app(tmp_path, FIELD_KEYS="")
    with pytest.raises(ConfigError, match="PORTAL_RECEIPT_KEY"):
        _production_app(tmp_path, RECEIPT_KEY="short")


def test_production_refuses_to_start_without_its_public_hosts(tmp_path) -> None:
    with pytest.raises(ConfigError, match="PORTAL_PUBLIC_HOSTS"):
        _production_app(tmp_path, PUBLIC_HOSTS="")


def test_a_foreign_host_header_changes_nothing_anyone_else_receives(tmp_path) -> None:
    """A request naming another Host is refused before any view or cache sees it, so the
    feed everybody reads keeps linking to the portal's own host."""
    app = _production_app(tmp_path, PUBLIC_HOSTS="xf.example.gov.cn", PUBLIC_CACHE_SECONDS=60)
    with app.app_context():
        from portal.db import database
        from portal.domain.administration import jurisdiction
        from tests.conftest import DEMO_JURISDICTION
        migrate.upgrade(app.config["DATABASE_URL"])
        session = database(app).sessionmaker()
        jurisdiction.load_file(session, DEMO_JURISDICTION)
        session.commit()
        session.close()
    client = app.test_client()
    forged = client.get("/disclosures/feed.atom", headers={"Host": "evil.example"},
                        base_url="https://evil.example")
    assert forged.status_code == 400
    honest = client.get("/disclosures/feed.atom", base_url="https://xf.example.gov.cn")
    assert honest.status_code == 200
    feed = honest.get_data(as_text=True)
    assert "evil.example" not in feed and "https://xf.example.gov.cn/" in feed


def test_the_public_forms_say_https_is_needed_over_plain_http(tmp_path) -> None:
    """In production the cookies are Secure: over plain HTTP the browser never sends them
    back, and the report and tracking forms say why instead of only "expired"."""
    app = _production_app(tmp_path)
    with app.app_context():
        migrate.upgrade(app.config["DATABASE_URL"])
    for url, data in (("/report", {"description": "后门堵了"}), ("/track", {"code": "1234"})):
        answer = app.test_client().post(url, data=data, base_url="http://localhost")
        assert answer.status_code in (400, 422), url
        assert "HTTPS" in answer.get_data(as_text=True), url
