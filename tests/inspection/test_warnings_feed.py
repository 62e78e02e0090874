"""Risk warnings in force head the public Atom feed (plan item 3); drafts, withdrawn and
ended warnings are not in it, and the text is masked as on the warnings page."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain.clock import local_today, utcnow
from portal.domain.enums import Role
from portal.domain.models import RiskWarning, User
from tests import factories
from tests.admin.conftest import make_user

pytestmark = pytest.mark.usefixtures("app")


def warning(session: Session, author: User, title: str, *, starts: int, ends: int,
            published: bool = True, withdrawn: bool = False) -> RiskWarning:
    today = local_today()
    row = RiskWarning(kind="holiday", title=title, text="如有疑问请拨打13912345678咨询",
                      township_id=factories.township(session).id,
                      starts_on=today + dt.timedelta(days=starts),
                      ends_on=today + dt.timedelta(days=ends), created_by_id=author.id,
                      published_at=utcnow() if published else None,
                      withdrawn_at=utcnow() if withdrawn else None)
    session.add(row)
    session.commit()
    return row


def test_the_warnings_in_force_head_the_feed_masked(client: FlaskClient,
                                                    db_session: Session) -> None:
    author = make_user(db_session, "warner", Role.SUPERVISOR)
    in_force = warning(db_session, author, "元旦假期火灾风险预警", starts=-1, ends=3)
    warning(db_session, author, "草稿预警", starts=-1, ends=3, published=False)
    warning(db_session, author, "已撤回预警", starts=-1, ends=3, withdrawn=True)
    warning(db_session, author, "已结束预警", starts=-10, ends=-2)
    feed = client.get("/disclosures/feed.atom").get_data(as_text=True)
    assert f"#warning-{in_force.id}" in feed and "【节假日】元旦假期火灾风险预警" in feed
    assert "13912345678" not in feed
    for absent in ("草稿预警", "已撤回预警", "已结束预警"):
        assert absent not in feed
    # The entry's link lands on the warning on the public page.
    page = client.get("/warnings").get_data(as_text=True)
    assert f'id="warning-{in_force.id}"' in page
