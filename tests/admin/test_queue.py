"""The moderators' queue: what comes first, filters, pages, and how late each tip is."""

from __future__ import annotations

import datetime as dt
import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from admin import queue as queue_views
from portal.domain.clock import utcnow
from portal.domain.enums import Channel, TipStatus
from portal.domain.models import Attachment
from tests import factories


def order_on_page(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/admin/tips/(\d+)"', html)]


def test_urgent_first_then_oldest_and_only_pending(client: FlaskClient, as_role,
                                                   db_session: Session) -> None:
    now = utcnow()
    old = factories.make_tip(db_session, created_at=now - dt.timedelta(days=2))
    new = factories.make_tip(db_session, created_at=now - dt.timedelta(hours=1))
    urgent = factories.make_tip(db_session, created_at=now - dt.timedelta(minutes=5),
                                category=factories.category(db_session, "blocked_escape"))
    done = factories.make_tip(db_session, status=TipStatus.REJECTED, reject_reason="spam",
                              decided_at=now)
    db_session.commit()
    as_role("moderator")
    html = client.get("/admin/queue").get_data(as_text=True)
    assert order_on_page(html) == [urgent.id, old.id, new.id]
    assert done.id not in order_on_page(html)
    assert "紧急" in html and "24 小时内核查" in html and "3 个工作日内核查" in html


def test_filters(client, as_role, db_session) -> None:
    v2 = factories.village(db_session, "V02")
    phone = factories.make_tip(db_session, channel=Channel.PHONE, village=v2)
    web = factories.make_tip(db_session)
    db_session.add(Attachment(stored_name="q.jpg", kind="photo", content_type="image/jpeg",
                              size_bytes=1, sha256="1" * 64, tip_id=web.id))
    db_session.commit()
    as_role("moderator")
    assert order_on_page(client.get("/admin/queue?channel=phone").get_data(as_text=True)) \
        == [phone.id]
    assert order_on_page(client.get(f"/admin/queue?village={v2.id}").get_data(as_text=True)) \
        == [phone.id]
    assert order_on_page(client.get("/admin/queue?photos=yes").get_data(as_text=True)) \
        == [web.id]
    assert phone.id in order_on_page(client.get("/admin/queue?photos=no").get_data(as_text=True))


def test_pagination(client, as_role, db_session, monkeypatch) -> None:
    monkeypatch.setattr(queue_views, "PAGE_SIZE", 2)
    now = utcnow()
    tips = [factories.make_tip(db_session, created_at=now - dt.timedelta(hours=10 - n))
            for n in range(5)]
    db_session.commit()
    as_role("moderator")
    first = client.get("/admin/queue").get_data(as_text=True)
    assert order_on_page(first) == [tips[0].id, tips[1].id] and "第 1 / 3 页" in first
    third = client.get("/admin/queue?page=3").get_data(as_text=True)
    assert order_on_page(third) == [tips[4].id]


def test_age_against_the_limit(app, db_session) -> None:
    now = utcnow()
    urgent = factories.make_tip(db_session, created_at=now - dt.timedelta(hours=30),
                                category=factories.category(db_session, "blocked_escape"))
    fresh = factories.make_tip(db_session, created_at=now - dt.timedelta(hours=3))
    stale = factories.make_tip(db_session, created_at=now - dt.timedelta(days=12))
    with app.app_context():
        assert queue_views.tip_age(db_session, urgent, now).overdue
        age = queue_views.tip_age(db_session, fresh, now)
        assert not age.overdue and age.text == "3 小时"
        assert queue_views.tip_age(db_session, stale, now).overdue


def test_hostile_query_strings_do_not_break_the_queue(client, as_role) -> None:
    as_role("moderator")
    for query in ("village=" + "9" * 40, "category=-1", "page=" + "9" * 40, "channel=<x>",
                  "photos=maybe"):
        assert client.get(f"/admin/queue?{query}").status_code == 200, query
