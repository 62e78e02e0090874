"""The moderation queue as a domain query: urgent first then oldest, every pending tip on one
page only, and filters parsed leniently from a query string."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.enums import Channel, TipStatus
from portal.domain.models import Attachment
from portal.domain.vetting.queue import QueueFilter, pending_tips
from tests import factories

pytestmark = pytest.mark.usefixtures("app")


def test_every_pending_tip_is_on_one_page_urgent_first_then_oldest(db_session: Session) -> None:
    now = utcnow()
    ordinary = [factories.make_tip(db_session, created_at=now - dt.timedelta(hours=100 - i))
                for i in range(60)]
    urgent = [factories.make_tip(db_session, created_at=now - dt.timedelta(minutes=10 - i),
                                 category=factories.category(db_session, "blocked_escape"))
              for i in range(5)]
    factories.make_tip(db_session, status=TipStatus.REJECTED, reject_reason="spam",
                       decided_at=now)
    first = pending_tips(db_session, QueueFilter(), page=1)
    assert first.total == 65 and first.pages == 3
    listed = [row.tip.id for n in range(1, 4)
              for row in pending_tips(db_session, QueueFilter(), page=n).items]
    assert listed == [t.id for t in urgent + ordinary]


def test_filters_and_photo_counts(db_session: Session) -> None:
    v2 = factories.village(db_session, "V02")
    phone = factories.make_tip(db_session, channel=Channel.PHONE, village=v2)
    web = factories.make_tip(db_session)
    for name in ("a.jpg", "b.jpg"):
        db_session.add(Attachment(stored_name=name, kind="photo", content_type="image/jpeg",
                                  size_bytes=1, sha256="1" * 64, tip_id=web.id))
    db_session.flush()

    def listed(**args: str) -> list[tuple[int, int]]:
        page = pending_tips(db_session, QueueFilter.from_args(args), size=10)
        return [(row.tip.id, row.photos) for row in page.items]

    assert listed(channel="phone") == [(phone.id, 0)]
    assert listed(village=str(v2.id)) == [(phone.id, 0)]
    assert listed(photos="yes") == [(web.id, 2)]
    assert (phone.id, 0) in listed(photos="no")
    # Nonsense is no filter at all, not an error.
    assert QueueFilter.from_args({"village": "9" * 12, "channel": "pigeon", "photos": "maybe",
                                  "category": "-1"}) == QueueFilter()
