"""Staff sign-in: password check with per-account lockout, the TOTP second factor, and the
signed-in sessions the server checks.

Per-IP throttling needs a counter shared by every app instance, so it lives with the rate
limiter's storage (see ``admin.auth``), as does the count for names that are no account; the
per-account lock is kept on the user row. Sessions live in the database (``StaffSession``),
never in Redis: signing in must work without it, and every instance sees the same rows.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from enum import Enum
from functools import cache

import pyotp
from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from portal.domain.access import accounts, audit
from portal.domain.administration import settings as portal_settings
from portal.domain.clock import utcnow
from portal.domain.enums import Role
from portal.domain.models import StaffSession, User
from portal.domain.reporting.identity import IdentityCipher

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
# However active, a signed-in session ends after this long; then one signs in again.
SESSION_MAX_AGE = dt.timedelta(days=30)
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
    # The name is no (active) account: the caller counts its failures elsewhere, so that
    # unknown names lock like real ones (``admin.auth``).
    unknown: bool = False


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
        return LoginResult(Outcome.BAD_CREDENTIALS, unknown=True)
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


# --- Signed-in sessions --------------------------------------------------------------------

def start_session(session: Session, user: User, *, now: dt.datetime | None = None) -> str:
    """A new signed-in session for ``user``; its id goes into the session cookie (through
    ``user.get_id()``). Sessions past ``SESSION_MAX_AGE`` are cleared out on the way."""
    now = now or utcnow()
    session.execute(delete(StaffSession).where(StaffSession.created_at < now - SESSION_MAX_AGE))
    session_id = secrets.token_urlsafe(32)
    session.add(StaffSession(id=session_id, user_id=user.id, created_at=now))
    session.flush()
    user.session_id = session_id
    return session_id


def session_is_live(session: Session, user: User, session_id: str, *,
                    now: dt.datetime | None = None) -> bool:
    """Whether ``session_id`` is a signed-in session of ``user`` that has not been ended."""
    if not session_id:
        return False
    row = session.get(StaffSession, session_id)
    now = now or utcnow()
    return row is not None and row.user_id == user.id and row.created_at > now - SESSION_MAX_AGE


def end_session(session: Session, session_id: str | None) -> None:
    """Sign-out: this session ends on the server; the account's other sessions go on."""
    if session_id:
        session.execute(delete(StaffSession).where(StaffSession.id == session_id))
        session.flush()


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


def totp_step(secret: str, code: str, *, after: int | None = None,
              now: dt.datetime | None = None) -> int | None:
    """The time step ``code`` belongs to (this one, the one before or after, for clock drift),
    if it is later than ``after``; ``None`` if the code is wrong or already used."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now or utcnow())
    for step in (current - 1, current, current + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_totp(secret: str, code: str) -> bool:
    return totp_step(secret, code) is not None


class TotpRefused(Enum):
    WRONG_CODE = "wrong_code"
    WRONG_CURRENT_CODE = "wrong_current_code"


def enrol_totp(
    session: Session, user: User, secret: str, code: str, cipher: IdentityCipher, *,
    ip: str = "", current_code: str = "",
) -> TotpRefused | None:
    """Store the secret, encrypted like a reporter's phone, once the user proved their
    authenticator app has it: a copied database alone must not yield working codes.

    Replacing an enrolled factor needs a code from the current one too (``current_code``):
    a session left open must not be enough to move the second factor to another phone. Without
    the old phone, an admin clears it (``reset_totp``, audited). ``None`` when enrolled."""
    if user.totp_secret and not check_user_totp(session, user, current_code, cipher):
        return TotpRefused.WRONG_CURRENT_CODE
    step = totp_step(secret, code)
    if step is None:
        return TotpRefused.WRONG_CODE
    replaced = user.totp_secret is not None
    user.totp_secret = (cipher.encrypt(secret) or b"").decode()
    user.totp_last_step = step
    session.flush()
    audit.record(session, "auth.totp_enrol", "user", user.id, actor=user, ip=ip,
                 after={"replaced": replaced})
    return None


def check_user_totp(session: Session, user: User, code: str, cipher: IdentityCipher) -> bool:
    """The second sign-in step: the code against the user's stored (encrypted) secret. A code
    is accepted once: its time step is remembered, and it and earlier steps are refused."""
    if not user.totp_secret:
        return False
    step = totp_step(cipher.decrypt(user.totp_secret.encode()), code, after=user.totp_last_step)
    if step is None:
        return False
    # Compare-and-set, so that two requests racing with the same code cannot both pass.
    claimed = session.execute(
        update(User).where(User.id == user.id,
                           or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    if not getattr(claimed, "rowcount", 0):
        return False
    user.totp_last_step = step
    session.flush()
    return True


def reset_totp(session: Session, user: User, *, actor: User, ip: str = "") -> None:
    user.totp_secret = None
    user.totp_last_step = None
    session.flush()
    audit.record(session, "auth.totp_reset", "user", user.id, actor=actor, ip=ip)
