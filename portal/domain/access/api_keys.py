"""Partner channels' keys for the Open311 API: issue, revoke, authenticate.

A key is ``<prefix>.<secret>``. It is shown once when issued; only its SHA-256 is stored, and
the prefix (not secret) finds the row so that checking a key is one indexed look-up. The secret
is 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.access import audit
from portal.domain.access.permissions import administered_townships, manages
from portal.domain.clock import utcnow
from portal.domain.models import ApiKey, User

PARTNER_MAX = 100
PREFIX_BYTES = 4  # 8 hex characters
_PREFIX_RE = re.compile(rf"^[0-9a-f]{{{PREFIX_BYTES * 2}}}\Z")


class ApiKeyError(ValueError):
    """The request to issue or revoke cannot be carried out; the message is Chinese."""


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    # The whole key, to be handed to the partner now: it cannot be shown again.
    key: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue(session: Session, partner: str, *, actor: User | None = None, ip: str = "",
          township_id: int | None = None) -> IssuedKey:
    """A key of the county (``township_id`` None) or of one township; a township admin
    issues keys only for its own township."""
    if actor is not None and not manages(actor, township_id):
        raise ApiKeyError("只能为本乡镇签发密钥")
    partner = " ".join((partner or "").split())
    if not partner:
        raise ApiKeyError("请填写合作渠道名称")
    if len(partner) > PARTNER_MAX:
        raise ApiKeyError(f"合作渠道名称不能超过 {PARTNER_MAX} 个字")
    while True:
        prefix = secrets.token_hex(PREFIX_BYTES)
        if session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            break
    key = f"{prefix}.{secrets.token_urlsafe(32)}"
    row = ApiKey(partner=partner, prefix=prefix, key_hash=_hash(key), township_id=township_id,
                 created_by_id=actor.id if actor else None)
    session.add(row)
    session.flush()
    audit.record(session, "api_key.issue", "api_key", row.id, actor=actor, ip=ip,
                 after={"partner": partner, "prefix": prefix, "township_id": township_id})
    return IssuedKey(row, key)


def revoke(session: Session, api_key: ApiKey, *, actor: User | None = None, ip: str = ""
           ) -> None:
    """Stop the key working at once. Tips it sent keep pointing at it."""
    if api_key.revoked_at is not None:
        raise ApiKeyError("该密钥已经停用")
    api_key.revoked_at = utcnow()
    session.flush()
    audit.record(session, "api_key.revoke", "api_key", api_key.id, actor=actor, ip=ip,
                 before={"partner": api_key.partner, "prefix": api_key.prefix})


def authenticate(session: Session, key: str | None) -> ApiKey | None:
    """The active key row for ``key``, or None for a missing, unknown or revoked key."""
    if not key:
        return None
    prefix, dot, _secret = key.strip().partition(".")
    if not dot or not _PREFIX_RE.match(prefix):
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _hash(key.strip())):
        return None
    return row


def all_keys(session: Session, admin: User | None = None) -> list[ApiKey]:
    """Every key (the CLI), or those the admin manages: a township admin, its township's."""
    query = select(ApiKey)
    places = administered_townships(admin) if admin is not None else None
    if places is not None:
        query = query.where(ApiKey.township_id.in_(sorted(places)))
    return list(session.scalars(query.order_by(ApiKey.id)))


def shown_key(session: Session, admin: User, key_id: int) -> ApiKey | None:
    """One key if the admin manages it, else None (the screen answers 404)."""
    row = session.get(ApiKey, key_id)
    return row if row is not None and manages(admin, row.township_id) else None
