from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from portal import create_app
from portal.config import DEFAULTS, ConfigError, load_settings
from portal.db import database
from tests.conftest import TEST_FIELD_KEY, TEST_SECRET, repo_path

GOOD_KEY = "k" * 20 + "0123456789abcdef"


def test_environment_overrides_defaults_and_overrides_win() -> None:
    env = {"PORTAL_ENV": "development", "PORTAL_MAX_CONTENT_LENGTH": "1234",
           "PORTAL_LOG_LEVEL": "DEBUG"}
    settings = load_settings({"LOG_LEVEL": "WARNING"}, environ=env)
    assert settings["MAX_CONTENT_LENGTH"] == 1234
    assert settings["LOG_LEVEL"] == "WARNING"


def test_default_database_is_sqlite_under_instance() -> None:
    settings = load_settings({"ENV": "testing", "SECRET_KEY": TEST_SECRET}, environ={})
    assert settings["DATABASE_URL"].startswith("sqlite:///")
    assert settings["DATABASE_URL"].endswith("instance/portal.db")


@pytest.mark.parametrize("key", ["", "dev", "change-me", "short-but-not-placeholder"])
def test_production_refuses_to_start_without_a_real_secret_key(key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        create_app({"ENV": "production", "SECRET_KEY": key})
    message = str(exc.value)
    assert "PORTAL_SECRET_KEY" in message
    assert "\n" not in message


def test_production_starts_with_a_real_secret_key(tmp_path) -> None:
    app = create_app({"ENV": "production", "SECRET_KEY": GOOD_KEY,
                      "FIELD_KEYS": TEST_FIELD_KEY, "RECEIPT_KEY": GOOD_KEY,
                      "AUDIT_KEY": GOOD_KEY, "UPLOAD_DIR": str(tmp_path / "up"),
                      "PUBLIC_HOSTS": "xf.example.gov.cn",
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"})
    assert app.config["SECRET_KEY"] == GOOD_KEY


def test_development_generates_and_keeps_a_secret_key() -> None:
    first = load_settings({"ENV": "development"}, environ={})["SECRET_KEY"]
    second = load_settings({"ENV": "development"}, environ={})["SECRET_KEY"]
    assert first == second and len(first) >= 32


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="PORTAL_MAX_CONTENT_LENGTH"):
        load_settings(environ={"PORTAL_ENV": "testing", "PORTAL_MAX_CONTENT_LENGTH": "lots"})
    with pytest.raises(ConfigError, match="PORTAL_ENV"):
        load_settings(environ={"PORTAL_ENV": "staging"})


def test_readme_lists_every_setting() -> None:
    readme = repo_path("README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`PORTAL_([A-Z0-9_]+)`", readme))
    assert set(DEFAULTS) <= documented, set(DEFAULTS) - documented


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path) -> None:
    app = create_app({"ENV": "testing", "SECRET_KEY": TEST_SECRET,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'wal.db'}",
                      "SQLITE_BUSY_TIMEOUT_MS": 7000})
    with database(app).engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 7000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


@pytest.mark.parametrize("key", ["", "dev", "short-but-not-placeholder"])
def test_production_refuses_to_start_without_an_audit_key(key: str) -> None:
    with pytest.raises(ConfigError, match="PORTAL_AUDIT_KEY"):
        load_settings({"ENV": "production", "SECRET_KEY": GOOD_KEY, "FIELD_KEYS": TEST_FIELD_KEY,
                       "RECEIPT_KEY": GOOD_KEY, "AUDIT_KEY": key}, environ={})


def test_development_generates_and_keeps_an_audit_key_and_a_checkpoint_file() -> None:
    first = load_settings({"ENV": "development"}, environ={})
    second = load_settings({"ENV": "development"}, environ={})
    assert first["AUDIT_KEY"] == second["AUDIT_KEY"] and len(first["AUDIT_KEY"]) >= 32
    assert first["AUDIT_KEY"] not in (first["SECRET_KEY"], first["RECEIPT_KEY"])
    assert first["AUDIT_CHECKPOINT_FILE"].endswith("instance/audit-checkpoints.log")
