"""The follow-up rating (回访/评价, issue 21): the one-time links an SMS carries.

A link allows the rating of one tip only, shows nothing of the report, is used once and
expires after ``LINK_DAYS``. The token itself is never stored: its keyed hash is (the same
key as the receipt codes, with its own label, so that a token can never pass for a code).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.models import RatingToken, Tip

LINK_DAYS = 30
_LABEL = b"rating-link\x00"


def token_hash(key: str, token: str) -> str:
    return hmac.new(key.encode(), _LABEL + token.encode(), hashlib.sha256).hexdigest()


def issue_token(session: Session, tip: Tip, *, key: str,
                now: dt.datetime | None = None) -> str:
    """A new one-time rating link's token for ``tip`` (URL-safe, 22 characters)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(16)
    session.add(RatingToken(tip_id=tip.id, token_hash=token_hash(key, token), created_at=now,
                            expires_at=now + dt.timedelta(days=LINK_DAYS)))
    session.flush()
    return token


def token_for(session: Session, token: str, *, key: str,
              now: dt.datetime | None = None) -> RatingToken | None:
    """The unused, unexpired link ``token`` names, or None (wrong, used or expired alike)."""
    now = now or utcnow()
    found = session.scalar(select(RatingToken).where(
        RatingToken.token_hash == token_hash(key, token)))
    if found is None or found.used_at is not None or found.expires_at <= now:
        return None
    return found
