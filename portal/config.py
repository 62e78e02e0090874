"""Settings: defaults, then ``PORTAL_*`` environment variables, then explicit overrides.

Every key here is documented in the README's settings table; a test keeps the two in step.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
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
    # PostgreSQL: how long a new connection, a statement and a lock wait may take (the connect
    # retry is the wait while the database restarts). Together shorter than WORKER_TIMEOUT, so
    # a hung database answers the 503 page instead of gunicorn killing every worker at once.
    "DATABASE_CONNECT_TIMEOUT": 5,
    "DATABASE_CONNECT_RETRY_SECONDS": 10,
    "DATABASE_STATEMENT_TIMEOUT_MS": 10000,
    "DATABASE_LOCK_TIMEOUT_MS": 5000,
    # gunicorn (deploy/gunicorn.conf.py): worker processes, seconds before a silent worker is
    # killed, and seconds a stopping worker may take to finish what it holds.
    "WORKERS": 4,
    "WORKER_TIMEOUT": 30,
    "GRACEFUL_TIMEOUT": 30,
    "RATELIMIT_STORAGE_URI": "memory://",
    # Seconds a Redis connect or reply may take; past it limits are counted in process memory.
    "RATELIMIT_STORAGE_TIMEOUT": 0.5,
    "MAX_CONTENT_LENGTH": 40 * 1024 * 1024,
    "TIMEZONE": "Asia/Shanghai",
    # Fernet keys (comma-separated, newest first) encrypting reporters' names and phones.
    "FIELD_KEYS": "",
    # HMAC key for receipt codes; changing it makes every issued receipt code unusable.
    "RECEIPT_KEY": "",
    # HMAC key of the audit chain; held outside the database so its owner cannot re-hash rows.
    "AUDIT_KEY": "",
    # `audit checkpoint` appends the signed chain head here; empty means
    # instance/audit-checkpoints.log. In production: storage the database's owner cannot rewrite.
    "AUDIT_CHECKPOINT_FILE": "",
    # Empty means instance/uploads; never under static/.
    "UPLOAD_DIR": "",
    # /healthz answers "degraded" when the upload directory has less free space than this.
    "UPLOAD_MIN_FREE_MB": 100,
    # Empty: uploads live in UPLOAD_DIR. ``s3://bucket/prefix``: in an S3-compatible object
    # store (docs/storage.md), reached with the S3_* settings; UPLOAD_DIR is then only the
    # source of `uploads copy-to-store`.
    "UPLOAD_STORE": "",
    "S3_ENDPOINT_URL": "",
    "S3_REGION": "",
    # Empty keys: boto3's own chain (AWS_* variables, ~/.aws, an instance role).
    "S3_ACCESS_KEY_ID": "",
    "S3_SECRET_ACCESS_KEY": "",
    # path (MinIO, Ceph RGW) or virtual (Alibaba Cloud OSS, Tencent COS).
    "S3_ADDRESSING_STYLE": "path",
    # Seconds to connect and to wait for a reply, and tries per request (retries included).
    "S3_CONNECT_TIMEOUT": 2.0,
    "S3_READ_TIMEOUT": 10.0,
    "S3_MAX_ATTEMPTS": 3,
    "MAX_PHOTOS": 6,
    "MAX_PHOTO_BYTES": 10 * 1024 * 1024,
    "MAX_PHOTO_PIXELS": 40_000_000,
    # Longest edge of a stored photo; a bigger JPEG is decoded at 1/2, 1/4 or 1/8 scale when
    # that still gives this many pixels (portal.domain.reporting.uploads.MAX_EDGE says why 2000).
    "PHOTO_MAX_EDGE": 2000,
    # Flask-Limiter syntax; counted per client address.
    "REPORT_RATE_LIMIT": "5 per hour;20 per day",
    "REPORT_POST_RATE_LIMIT": "60 per hour",
    # Public pages may lag a change by this many seconds; busy pages then skip the database.
    "PUBLIC_CACHE_SECONDS": 1.0,
    "TRACK_RATE_LIMIT": "10 per minute;60 per hour",
    # Open311 reads (GET requests, requests/{id}, tokens/{token}) per client address.
    "OPEN311_GET_RATE_LIMIT": "600 per minute",
    "LOG_LEVEL": "INFO",
    # Reverse proxies in front of the app (0: none); their X-Forwarded-* headers are trusted.
    "PROXY_COUNT": 0,
    # nginx serves the open data dumps of the upload directory (deploy/nginx.conf's internal
    # location, e.g. "/_opendata/"): the app answers the checks and hands the body over with
    # X-Accel-Redirect. Empty: the app sends the files itself (no such proxy in front).
    "ACCEL_REDIRECT_PREFIX": "",
    # The host names the portal answers to (comma-separated, e.g. "xf.pingshun.gov.cn");
    # a request naming any other Host is refused, so no page, feed or link can be made to
    # point elsewhere. Required in production; elsewhere empty means this machine only.
    "PUBLIC_HOSTS": "",
    # Retention (`retention purge`, `uploads gc`; meant for cron).
    "RETENTION_SPAM_DAYS": 90,
    "RETENTION_IDENTITY_DAYS": 365,
    "UPLOAD_GC_GRACE_HOURS": 24,
    # A ledger export of more rows than this is queued for the worker (`jobs work`) instead of
    # streamed, which a sync web worker would kill at PORTAL_WORKER_TIMEOUT.
    "EXPORT_JOB_ROWS": 5000,
    # A back-office session left idle this long is signed out.
    "STAFF_IDLE_MINUTES": 30,
    # Outgoing mail for notifications; no host means notifications are only logged.
    "SMTP_HOST": "",
    "SMTP_PORT": 25,
    "SMTP_USERNAME": "",
    "SMTP_PASSWORD": "",
    "SMTP_STARTTLS": False,
    "SMTP_FROM": "",
    # Delivery attempts before a notification is given up (`notifications send`).
    "NOTIFY_MAX_TRIES": 5,
    # SMS (docs/notifications.md): none (only logged) | aliyun | tencent. The keys are the
    # AccessKey pair (Alibaba) or SecretId/SecretKey (Tencent); the signature (签名) and each
    # template code are registered with the provider first. Empty endpoint and region: the
    # provider's defaults (dysmsapi.aliyuncs.com, cn-hangzhou; sms.tencentcloudapi.com,
    # ap-guangzhou).
    "SMS_PROVIDER": "none",
    "SMS_ACCESS_KEY_ID": "",
    "SMS_ACCESS_KEY_SECRET": "",
    "SMS_SIGN_NAME": "",
    "SMS_REGION": "",
    "SMS_ENDPOINT": "",
    # Tencent only: the SMS application's SdkAppId (1400…).
    "SMS_SDK_APP_ID": "",
    # Messages a number may receive in any 24 hours; more wait (0: no cap).
    "SMS_DAILY_CAP": 10,
    # Longest template parameter the account accepts; 0: the provider's rule (35 Alibaba, 6
    # Tencent).
    "SMS_PARAM_MAX_CHARS": 0,
    # One template code per message kind; a kind with no code is not sent.
    "SMS_TEMPLATE_TIP_ACCEPTED": "",
    "SMS_TEMPLATE_TIP_REFUSED": "",
    "SMS_TEMPLATE_CASE_CLOSED": "",
    "SMS_TEMPLATE_RATING_OPEN": "",
    "SMS_TEMPLATE_ASSIGNMENT_NEW": "",
    "SMS_TEMPLATE_DUE_SOON": "",
    "SMS_TEMPLATE_OVERDUE": "",
    # `sla scan`: how far ahead a check-by, and how many days ahead a rectify-by, is "due soon".
    "SLA_DUE_SOON_HOURS": 24,
    "SLA_RECTIFY_WARN_DAYS": 3,
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
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"PORTAL_{name} must be a number, not {raw!r}") from None
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
    settings["FIELD_KEYS"] = _field_keys(settings)
    settings["RECEIPT_KEY"] = _receipt_key(settings)
    settings["AUDIT_KEY"] = _audit_key(settings)
    settings["PUBLIC_HOSTS"] = _public_hosts(settings)
    check_timeouts(settings)
    if not settings["AUDIT_CHECKPOINT_FILE"]:
        settings["AUDIT_CHECKPOINT_FILE"] = str(INSTANCE_DIR / "audit-checkpoints.log")
    if not settings["UPLOAD_DIR"]:
        settings["UPLOAD_DIR"] = str(INSTANCE_DIR / "uploads")
    _check_upload_store(settings)
    _check_sms(settings)
    if settings["PHOTO_MAX_EDGE"] < 320:
        raise ConfigError("PORTAL_PHOTO_MAX_EDGE must be at least 320 (the thumbnail's edge)")
    return settings


def _check_upload_store(settings: dict[str, Any]) -> None:
    from portal.storage import parse_store_url

    if settings["UPLOAD_STORE"]:
        try:
            parse_store_url(settings["UPLOAD_STORE"])
        except ValueError as exc:
            raise ConfigError(f"PORTAL_UPLOAD_STORE must be empty or s3://bucket/prefix "
                              f"({exc}), not {settings['UPLOAD_STORE']!r}") from None
    if settings["S3_ADDRESSING_STYLE"] not in {"path", "virtual"}:
        raise ConfigError("PORTAL_S3_ADDRESSING_STYLE must be path or virtual")
    for name in ("S3_CONNECT_TIMEOUT", "S3_READ_TIMEOUT", "S3_MAX_ATTEMPTS"):
        if settings[name] <= 0:
            raise ConfigError(f"PORTAL_{name} must be positive")


SMS_PROVIDERS = ("none", "aliyun", "tencent")


def _check_sms(settings: dict[str, Any]) -> None:
    provider = settings["SMS_PROVIDER"]
    if provider not in SMS_PROVIDERS:
        raise ConfigError(f"PORTAL_SMS_PROVIDER must be one of {', '.join(SMS_PROVIDERS)}")
    if provider == "none":
        return
    needed = ["SMS_ACCESS_KEY_ID", "SMS_ACCESS_KEY_SECRET", "SMS_SIGN_NAME"]
    if provider == "tencent":
        needed.append("SMS_SDK_APP_ID")
    missing = [f"PORTAL_{name}" for name in needed if not settings[name]]
    if missing:
        raise ConfigError(f"PORTAL_SMS_PROVIDER={provider} needs {', '.join(missing)}")
    if settings["SMS_DAILY_CAP"] < 0 or settings["SMS_PARAM_MAX_CHARS"] < 0:
        raise ConfigError("PORTAL_SMS_DAILY_CAP and PORTAL_SMS_PARAM_MAX_CHARS must not be "
                          "negative")


def database_wait_seconds(settings: dict[str, Any]) -> float:
    """The longest one statement may keep a request waiting on PostgreSQL: the connect retry
    (a connection attempt can start just before it ends; psycopg waits at least 2 s), then
    the statement."""
    return (settings["DATABASE_CONNECT_RETRY_SECONDS"]
            + max(2, settings["DATABASE_CONNECT_TIMEOUT"])
            + settings["DATABASE_STATEMENT_TIMEOUT_MS"] / 1000)


def check_timeouts(settings: dict[str, Any]) -> None:
    """The database gives up before gunicorn does, so a resident gets the 503 page, not a
    killed worker's empty response."""
    for name in ("DATABASE_CONNECT_TIMEOUT", "DATABASE_STATEMENT_TIMEOUT_MS",
                 "DATABASE_LOCK_TIMEOUT_MS", "WORKERS", "WORKER_TIMEOUT", "GRACEFUL_TIMEOUT"):
        if settings[name] <= 0:
            raise ConfigError(f"PORTAL_{name} must be positive (0 would mean waiting forever)")
    if settings["DATABASE_CONNECT_RETRY_SECONDS"] < 0:
        raise ConfigError("PORTAL_DATABASE_CONNECT_RETRY_SECONDS must not be negative")
    if settings["DATABASE_LOCK_TIMEOUT_MS"] > settings["DATABASE_STATEMENT_TIMEOUT_MS"]:
        raise ConfigError("PORTAL_DATABASE_LOCK_TIMEOUT_MS must not exceed "
                          "PORTAL_DATABASE_STATEMENT_TIMEOUT_MS")
    wait = database_wait_seconds(settings)
    if wait >= settings["WORKER_TIMEOUT"]:
        raise ConfigError(
            "PORTAL_DATABASE_CONNECT_RETRY_SECONDS + PORTAL_DATABASE_CONNECT_TIMEOUT + "
            f"PORTAL_DATABASE_STATEMENT_TIMEOUT_MS (together {wait:g} s) must stay below "
            f"PORTAL_WORKER_TIMEOUT ({settings['WORKER_TIMEOUT']} s)")


WORKER_SETTINGS = ("WORKERS", "WORKER_TIMEOUT", "GRACEFUL_TIMEOUT", "DATABASE_CONNECT_TIMEOUT",
                   "DATABASE_CONNECT_RETRY_SECONDS", "DATABASE_STATEMENT_TIMEOUT_MS",
                   "DATABASE_LOCK_TIMEOUT_MS")


def worker_settings(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The settings gunicorn's master needs (deploy/gunicorn.conf.py), checked like the app's,
    without the app's secrets."""
    environ = dict(os.environ) if environ is None else environ
    settings = {name: DEFAULTS[name] for name in WORKER_SETTINGS}
    for name in WORKER_SETTINGS:
        raw = environ.get(f"PORTAL_{name}")
        if raw is not None:
            settings[name] = _coerce(name, raw, DEFAULTS[name])
    check_timeouts(settings)
    return settings


def _field_keys(settings: dict[str, Any]) -> str:
    from cryptography.fernet import Fernet

    keys = [k.strip() for k in str(settings["FIELD_KEYS"]).split(",") if k.strip()]
    if not keys:
        if settings["ENV"] == "production":
            raise ConfigError(
                "Set PORTAL_FIELD_KEYS to a Fernet key, e.g. `python -c 'from "
                "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
            )
        return instance_secret("field_key", lambda: Fernet.generate_key().decode())
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ConfigError(
                "PORTAL_FIELD_KEYS holds a value that is not a Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from None
    return ",".join(keys)


def _receipt_key(settings: dict[str, Any]) -> str:
    key = str(settings["RECEIPT_KEY"])
    if len(key) >= MIN_SECRET_KEY_LENGTH:
        return key
    if settings["ENV"] == "production":
        raise ConfigError(
            f"Set PORTAL_RECEIPT_KEY to a random string of at least {MIN_SECRET_KEY_LENGTH} "
            "characters; keep it for as long as receipt codes must work."
        )
    return instance_secret("receipt_key")


LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def _public_hosts(settings: dict[str, Any]) -> list[str]:
    raw = settings["PUBLIC_HOSTS"]
    hosts = [h.strip().lower() for h in (raw.split(",") if isinstance(raw, str) else raw)]
    hosts = [h for h in hosts if h]
    if hosts:
        return hosts
    if settings["ENV"] == "production":
        raise ConfigError("Set PORTAL_PUBLIC_HOSTS to the host names the portal is reached at "
                          "(comma-separated); requests for any other Host are refused.")
    return list(LOCAL_HOSTS)


def _audit_key(settings: dict[str, Any]) -> str:
    key = str(settings["AUDIT_KEY"])
    if key.lower() not in _PLACEHOLDER_SECRETS and len(key) >= MIN_SECRET_KEY_LENGTH:
        return key
    if settings["ENV"] == "production":
        raise ConfigError(
            f"Set PORTAL_AUDIT_KEY to a random string of at least {MIN_SECRET_KEY_LENGTH} "
            "characters, kept outside the database; without it the audit log cannot be verified."
        )
    return instance_secret("audit_key")


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


def instance_secret(name: str, generate: Callable[[], str] | None = None) -> str:
    """A development-only secret kept in ``instance/`` so restarts keep it."""
    path = INSTANCE_DIR / name
    if path.exists():
        return path.read_text().strip()
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    value = generate() if generate else secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value
