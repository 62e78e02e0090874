"""Bulletins: a draft pre-filled with the period's figures, edited, published, then readable
by the public; drafts never are."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.clock import utcnow
from portal.domain.models import Bulletin
from portal.domain.supervision import bulletins
from tests import factories
from tests.conftest import csrf_token
from tests.domain.linkage_helpers import supervisor
from tests.domain.supervision_helpers import seed_ledger


@pytest.fixture
def seeded(db_session: Session):
    cases = seed_ledger(db_session)
    factories.make_tip(db_session)
    db_session.commit()
    return cases


def _draft(client: FlaskClient, start: str, end: str) -> str:
    response = client.post("/admin/bulletins/new", data={
        "csrf_token": csrf_token(client, "/admin/bulletins"),
        "period_start": start, "period_end": end})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def test_a_draft_carries_the_periods_figures(db_session: Session, seeded, app) -> None:
    today = clock.local_today()
    figures = bulletins.period_figures(db_session, today.replace(day=1), today)
    # Seeded this month: every case but the two dated 2023; one tip; three overdue.
    assert figures["cases_opened"] == len(seeded) - 2
    assert figures["new_tips"] == 1
    assert figures["overdue"] == 3
    fire = factories.department(db_session, "FIRE").name
    assert figures["overdue_by_department"] == [{"department": fire, "count": 3}]
    assert figures["cases_closed"] == 2  # closed_major_old (closed today) and unfounded
    draft = bulletins.draft_text(figures, "阳高乡")
    assert f"{fire} 3 件" in draft


def test_draft_edit_publish_and_read_publicly(client: FlaskClient, as_role,
                                              db_session: Session, seeded) -> None:
    as_role("supervisor")
    today = clock.local_today()
    page_url = _draft(client, today.replace(day=1).isoformat(), today.isoformat())
    page = client.get(page_url).get_data(as_text=True)
    assert "火灾隐患举报处置情况通报" in page and "超期未办结" in page
    bulletin_id = int(page_url.rsplit("/", 1)[1])
    assert client.get(f"/bulletins/{bulletin_id}").status_code == 404  # a draft

    token = csrf_token(client, page_url)
    response = client.post(f"/admin/bulletins/{bulletin_id}/edit", data={
        "csrf_token": token, "title": "十一月火灾隐患整治通报",
        "text": "本月群众举报踊跃。\n\n请各部门抓紧办理超期工单。"})
    assert response.status_code == 303
    response = client.post(f"/admin/bulletins/{bulletin_id}/publish",
                           data={"csrf_token": token})
    assert response.status_code == 303
    # Published: the wording is fixed.
    response = client.post(f"/admin/bulletins/{bulletin_id}/edit", data={
        "csrf_token": token, "title": "改", "text": "改"})
    assert response.status_code == 400 and "已发布" in response.get_data(as_text=True)

    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    public = client.get(f"/bulletins/{bulletin_id}")
    assert public.status_code == 200
    body = public.get_data(as_text=True)
    assert "十一月火灾隐患整治通报" in body and "<p>请各部门抓紧办理超期工单。</p>" in body
    assert re.search(r"超期未办结</th><td>3 件", body)
    assert "十一月火灾隐患整治通报" in client.get("/bulletins").get_data(as_text=True)


def test_drafts_are_not_listed_publicly(client: FlaskClient, db_session: Session, app) -> None:
    today = clock.local_today()
    draft = bulletins.draft(db_session, today, today, actor=supervisor(db_session),
                            township="阳高乡", now=utcnow())
    db_session.commit()
    assert draft.title not in client.get("/bulletins").get_data(as_text=True)
    assert db_session.scalar(select(Bulletin.published_at).where(Bulletin.id == draft.id)) \
        is None


def test_a_period_that_ends_before_it_starts_is_refused(client: FlaskClient, as_role) -> None:
    as_role("supervisor")
    response = client.post("/admin/bulletins/new", data={
        "csrf_token": csrf_token(client, "/admin/bulletins"),
        "period_start": "2026-03-31", "period_end": "2026-03-01"})
    assert response.status_code == 400
    assert "结束日期不能早于开始日期" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["officer", "moderator"])
def test_only_supervisors_and_admins_reach_bulletins(client: FlaskClient, as_role,
                                                     role: str) -> None:
    as_role(role)
    assert client.get("/admin/bulletins").status_code == 403
