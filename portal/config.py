"""Settings: defaults, then ``PORTAL_*`` environment variables, then explicit overrides.

Every key here is documented in the README's settings table; a test keeps the two in step.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = ROOT / "instance"

ENVIRONMENTS = ("development", "testing", "production")

DEFAULTS: dict[str, Any] = {
    # development | testing | production; anything but the first two needs a real secret key.
    "ENV": "production",
    "SECRET_KEY": "",
    # Empty means a SQLite file under instance/.
    "DATABASE_URL": "",
    "DATABASE_POOL_SIZE": 5,
    "SQLITE_BUSY_TIMEOUT_MS": 5000,
    "RATELIMIT_STORAGE_URI": "memory://",
    "MAX_CONTENT_LENGTH": 40 * 1024 * 1024,
    "TIMEZONE": "Asia/Shanghai",
    "LOG_LEVEL": "INFO",
}

# Secret keys that must never be accepted outside development and tests.
_PLACEHOLDER_SECRETS = {"", "dev", "change-me", "changeme", "secret", "development"}
MIN_SECRET_KEY_LENGTH = 32


class ConfigError(RuntimeError):
    """The settings cannot run the portal; the message says what to set."""


def _coerce(name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"PORTAL_{name} must be true or false, not {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"PORTAL_{name} must be an integer, not {raw!r}") from None
    return raw


def load_settings(
    overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None
) -> dict[str, Any]:
    """Return the effective settings, validated."""
    environ = dict(os.environ) if environ is None else environ
    settings = dict(DEFAULTS)
    for name, default in DEFAULTS.items():
        raw = environ.get(f"PORTAL_{name}")
        if raw is not None:
            settings[name] = _coerce(name, raw, default)
    settings.update(overrides or {})

    if settings["ENV"] not in ENVIRONMENTS:
        raise ConfigError(f"PORTAL_ENV must be one of {', '.join(ENVIRONMENTS)}")
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = f"sqlite:///{INSTANCE_DIR / 'portal.db'}"
    settings["SECRET_KEY"] = _secret_key(settings)
    return settings


def _secret_key(settings: dict[str, Any]) -> str:
    key = str(settings["SECRET_KEY"])
    if key.lower() not in _PLACEHOLDER_SECRETS and len(key) >= MIN_SECRET_KEY_LENGTH:
        return key
    if settings["ENV"] == "production":
        raise ConfigError(
            "Set PORTAL_SECRET_KEY to a random string of at least "
            f"{MIN_SECRET_KEY_LENGTH} characters, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
        )
    return instance_secret("secret_key")


def instance_secret(name: str) -> str:
    """A development-only secret kept in ``instance/`` so restarts keep sessions valid."""
    path = INSTANCE_DIR / name
    if path.exists():
        return path.read_text().strip()
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value
