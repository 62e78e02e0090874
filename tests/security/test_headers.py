"""Headers and cookies every response carries."""

from __future__ import annotations

from portal import create_app
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
        "RECEIPT_KEY": "r" * 40, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
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
