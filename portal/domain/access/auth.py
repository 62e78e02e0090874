"""Staff sign-in: password check with per-account lockout, and the TOTP second factor.

Per-IP throttling needs a counter shared by every app instance, so it lives with the rate
limiter's storage (see ``admin.auth``); the per-account lock is kept on the user row.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from enum import Enum
from functools import cache

import pyotp
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from portal.domain.access import accounts, audit
from portal.domain.administration import settings as portal_settings
from portal.domain.clock import utcnow
from portal.domain.enums import Role
from portal.domain.models import User
from portal.domain.reporting.identity import IdentityCipher

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
TOTP_ISSUER = "消防隐患举报平台"
REQUIRE_2FA_KEY = "require_2fa_for_admins_and_moderators"
_2FA_ROLES = frozenset({Role.ADMIN, Role.MODERATOR})


@cache
def _dummy_hash() -> str:
    return accounts.hash_password(secrets.token_urlsafe(16))


class Outcome(Enum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"


@dataclass(frozen=True)
class LoginResult:
    outcome: Outcome
    user: User | None = None
    locked_until: dt.datetime | None = None


def check_password(
    session: Session, username: str, password: str, *, ip: str = "",
    now: dt.datetime | None = None,
) -> LoginResult:
    """Check a username and password, counting failures against the account.

    An unknown or deactivated account answers like a wrong password, so the form does not
    tell which usernames exist.
    """
    now = now or utcnow()
    user = accounts.find_user(session, username)
    if user is None or not user.active:
        # Spend the same time as a real check, so timing does not tell which names exist.
        check_password_hash(_dummy_hash(), password)
        return LoginResult(Outcome.BAD_CREDENTIALS)
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(Outcome.LOCKED, locked_until=user.locked_until)
    if not accounts.password_matches(user, password):
        return _failed(session, user, ip, now)
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    return LoginResult(Outcome.OK, user)


def _failed(session: Session, user: User, ip: str, now: dt.datetime) -> LoginResult:
    if user.locked_until is not None and user.locked_until <= now:
        user.failed_logins = 0  # the previous lock has run out: a fresh start
        user.locked_until = None
    user.failed_logins += 1
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
        session.flush()
        audit.record(session, "auth.lock", "user", user.id, ip=ip,
                     after={"failed_logins": user.failed_logins,
                            "locked_until": user.locked_until.isoformat()})
        return LoginResult(Outcome.LOCKED, locked_until=user.locked_until)
    session.flush()
    return LoginResult(Outcome.BAD_CREDENTIALS)


def record_login(session: Session, user: User, *, ip: str = "") -> None:
    user.last_login_at = utcnow()
    session.flush()
    audit.record(session, "auth.login", "user", user.id, actor=user, ip=ip)


# --- TOTP ------------------------------------------------------------------------------------

def two_factor_policy(session: Session) -> bool:
    """Whether admins and moderators must use a second factor (an admin's setting)."""
    return bool(portal_settings.get(session, REQUIRE_2FA_KEY, False))


def set_two_factor_policy(session: Session, required: bool, *, actor: User, ip: str = "") -> None:
    before = two_factor_policy(session)
    portal_settings.put(session, REQUIRE_2FA_KEY, bool(required))
    audit.record(session, "settings.require_2fa", "setting", REQUIRE_2FA_KEY, actor=actor,
                 ip=ip, before={"value": before}, after={"value": bool(required)})


def needs_second_factor(session: Session, user: User) -> bool:
    return user.totp_required or (user.role in _2FA_ROLES and two_factor_policy(session))


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


def verify_totp(secret: str, code: str) -> bool:
    code = "".join(code.split())
    return len(code) == 6 and code.isdigit() and pyotp.TOTP(secret).verify(code, valid_window=1)


def enrol_totp(
    session: Session, user: User, secret: str, code: str, cipher: IdentityCipher, *,
    ip: str = "",
) -> bool:
    """Store the secret, encrypted like a reporter's phone, once the user proved their
    authenticator app has it: a copied database alone must not yield working codes."""
    if not verify_totp(secret, code):
        return False
    user.totp_secret = (cipher.encrypt(secret) or b"").decode()
    session.flush()
    audit.record(session, "auth.totp_enrol", "user", user.id, actor=user, ip=ip)
    return True


def check_user_totp(user: User, code: str, cipher: IdentityCipher) -> bool:
    """The second sign-in step: the code against the user's stored (encrypted) secret."""
    if not user.totp_secret:
        return False
    return verify_totp(cipher.decrypt(user.totp_secret.encode()), code)


def reset_totp(session: Session, user: User, *, actor: User, ip: str = "") -> None:
    user.totp_secret = None
    session.flush()
    audit.record(session, "auth.totp_reset", "user", user.id, actor=actor, ip=ip)
