"""Fixtures for the Open311 API: a partner's key, disclosed and undisclosed cases."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain.access import api_keys
from portal.domain.clock import utcnow
from portal.domain.enums import AssignmentRole, AttachmentKind, CaseEventKind, CaseStatus
from portal.domain.models import Assignment, Attachment, Case, CaseEvent
from tests import factories
from tests.admin.conftest import as_role, staff  # noqa: F401 (fixtures for the admin screen)

API = "/open311/v2"


@pytest.fixture
def partner_key(db_session: Session) -> str:
    return api_keys.issue(db_session, "12345热线").key


@pytest.fixture
def other_key(db_session: Session) -> str:
    return api_keys.issue(db_session, "另一个合作渠道").key


def make_disclosed_case(session: Session, **values: Any) -> Case:
    """A case a department confirmed and a moderator disclosed."""
    now = utcnow()
    defaults = {"status": CaseStatus.RECTIFYING, "routed_at": now, "confirmed_at": now,
                "disclosed": True, "disclosed_at": now}
    return factories.make_case(session, **{**defaults, **values})


@pytest.fixture
def disclosed_case(db_session: Session) -> Case:
    """A confirmed, disclosed case with a lead department, progress and a public photo."""
    case = make_disclosed_case(
        db_session,
        public_summary="楼道内堆放大量纸箱，堵塞疏散通道。",
        internal_summary="内部：举报人称老板是其亲戚。",
        rectify_by=dt.date(2026, 12, 15),
    )
    case.unit.address = "村东头 12 号"
    case.unit.lat, case.unit.lon = 36.1, 113.2
    db_session.add(Assignment(case=case, department=factories.department(db_session, "FIRE"),
                              role=AssignmentRole.LEAD))
    first = CaseEvent(case=case, kind=CaseEventKind.PROGRESS, public_text="已下达整改通知。",
                      internal_text="内部记录")
    db_session.add(first)
    db_session.flush()
    db_session.add(CaseEvent(case=case, kind=CaseEventKind.PROGRESS,
                             public_text="纸箱已清走一半。",
                             created_at=utcnow() + dt.timedelta(minutes=1)))
    db_session.add(CaseEvent(case=case, kind=CaseEventKind.NOTE, internal_text="只给内部看"))
    db_session.add(Attachment(stored_name="publicphoto1.jpg", kind=AttachmentKind.PHOTO,
                              content_type="image/jpeg", size_bytes=10, sha256="0" * 64,
                              public=True, case_event_id=first.id))
    db_session.flush()
    return case


def xml_of(response) -> ET.Element:
    assert response.content_type.startswith("text/xml")
    return ET.fromstring(response.data)  # noqa: S314 (our own response, in a test)


def post_request(client: FlaskClient, key: str | None, fmt: str = "json", **fields: str):
    data = {
        "service_code": "wiring",
        "lat": "36.1",
        "long": "113.2",
        "attribute[village]": "V01",
        "attribute[unit_name]": "村口小卖部",
        "description": "店内电线私拉乱接，插线板堆在纸箱上。",
        **fields,
    }
    if key is not None:
        data["api_key"] = key
    return client.post(f"{API}/requests.{fmt}", data={k: v for k, v in data.items()
                                                     if v is not None})
