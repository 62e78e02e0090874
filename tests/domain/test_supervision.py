"""Listing for supervision: who and what may be listed, delisting only after closure, and the
commitment letter accepted only as a real PDF or image."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain.casework import workflow
from portal.domain.casework.events import WorkflowError
from portal.domain.enums import CaseEventKind, CaseStatus, Severity, SupervisionLevel
from portal.domain.models import Attachment, AuditLog
from portal.domain.reporting.uploads import UploadError, UploadLimits
from portal.domain.supervision import listings
from portal.storage import DirectoryStorage
from tests import images
from tests.domain.linkage_helpers import officer
from tests.domain.linkage_helpers import supervisor as a_supervisor
from tests.domain.supervision_helpers import case_at

pytestmark = pytest.mark.usefixtures("app")

LIMITS = UploadLimits(max_bytes=10 * 1024 * 1024, max_pixels=40_000_000)
DEADLINE = dt.date(2027, 3, 31)


def minimal_pdf(extra: bytes = b"") -> bytes:
    """A small but well-formed PDF: header, objects, an xref table at the stated offset."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] " + extra + b">>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"\
        .encode()
    return bytes(out)


@pytest.fixture
def store(tmp_path) -> DirectoryStorage:
    return DirectoryStorage(tmp_path)


@pytest.fixture
def listed(db_session: Session):
    case = case_at(db_session, "rectifying", severity=Severity.MAJOR)
    listing = listings.list_case(db_session, case, actor=a_supervisor(db_session),
                                    level=SupervisionLevel.COUNTY, deadline=DEADLINE,
                                    responsible_leader="李副乡长")
    return case, listing


def test_listing_sets_the_level_and_writes_a_public_event(db_session: Session, listed) -> None:
    case, listing = listed
    assert case.supervision_level is SupervisionLevel.COUNTY
    assert listing.active and listing.deadline == DEADLINE
    event = case.events[-1]
    assert event.kind is CaseEventKind.SUPERVISION_CHANGED
    assert "县级挂牌督办" in event.public_text and "2027-03-31" in event.public_text
    assert db_session.scalar(select(AuditLog).order_by(AuditLog.id.desc())).action == \
        "case.supervision_changed"


def test_only_open_major_hazards_are_listed_once_by_a_supervisor(db_session: Session,
                                                                  listed) -> None:
    case, _ = listed
    boss = a_supervisor(db_session)
    with pytest.raises(WorkflowError, match="已在挂牌督办中"):
        listings.list_case(db_session, case, actor=boss, level=SupervisionLevel.CITY,
                              deadline=DEADLINE, responsible_leader="某")
    general = case_at(db_session, "rectifying")
    with pytest.raises(WorkflowError, match="只有重大火灾隐患"):
        listings.list_case(db_session, general, actor=boss, level=SupervisionLevel.TOWNSHIP,
                              deadline=DEADLINE, responsible_leader="某")
    other = case_at(db_session, "rectifying", severity=Severity.MAJOR)
    with pytest.raises(WorkflowError, match="督办人员"):
        listings.list_case(db_session, other, actor=officer(db_session, "FIRE"),
                              level=SupervisionLevel.TOWNSHIP, deadline=DEADLINE,
                              responsible_leader="某")
    with pytest.raises(WorkflowError, match="责任领导"):
        listings.list_case(db_session, other, actor=boss, level=SupervisionLevel.TOWNSHIP,
                              deadline=DEADLINE, responsible_leader="  ")


def test_delisting_before_closure_is_refused(db_session: Session, listed) -> None:
    case, listing = listed
    boss = a_supervisor(db_session)
    with pytest.raises(WorkflowError, match="销案批准后才能摘牌"):
        listings.delist(db_session, listing, actor=boss)
    workflow.report_rectified(db_session, case, actor=officer(db_session, "FIRE"),
                              report="已整改")
    assert case.status is CaseStatus.RECTIFIED
    with pytest.raises(WorkflowError, match="销案批准后才能摘牌"):
        listings.delist(db_session, listing, actor=boss)
    assert listing.active and case.supervision_level is SupervisionLevel.COUNTY

    workflow.approve_closure(db_session, case, actor=boss)
    listings.delist(db_session, listing, actor=boss, note="验收合格")
    assert not listing.active and listing.delisted_by_id == boss.id
    assert case.supervision_level is SupervisionLevel.NONE
    assert "摘牌" in case.events[-1].public_text
    with pytest.raises(WorkflowError, match="已摘牌"):
        listings.delist(db_session, listing, actor=boss)


def test_interviews_are_recorded_on_the_listing_and_the_timeline(db_session: Session,
                                                                  listed) -> None:
    case, listing = listed
    held = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
    listings.record_interview(db_session, listing, actor=a_supervisor(db_session),
                                 held_at=held, participants="单位法人王某", notes="承诺月底完成")
    assert [i.participants for i in listing.interviews] == ["单位法人王某"]
    assert case.events[-1].internal_text.startswith("约谈：单位法人王某")
    assert case.events[-1].public_text == ""


def test_a_real_pdf_letter_is_stored_unaltered(db_session: Session, listed, store) -> None:
    _, listing = listed
    raw = minimal_pdf()
    letter = listings.attach_letter(db_session, store, listing, raw,
                                       actor=a_supervisor(db_session), limits=LIMITS)
    assert letter.content_type == "application/pdf" and letter.listing_id == listing.id
    assert store.get(letter.stored_name) == raw
    assert listing.commitment_letter is letter


def test_an_image_letter_goes_through_the_photo_pipeline(db_session: Session, listed,
                                                         store) -> None:
    _, listing = listed
    letter = listings.attach_letter(db_session, store, listing, images.jpeg_with_gps(),
                                       actor=a_supervisor(db_session), limits=LIMITS)
    assert letter.content_type == "image/jpeg"
    assert b"GPS" not in store.get(letter.stored_name)  # re-encoded without EXIF


@pytest.mark.parametrize("raw, message", [
    (b"%PDF-1.4\nthis is not really a pdf at all", "不是有效的 PDF"),
    (minimal_pdf()[:-40], "不是有效的 PDF"),  # truncated: no trailer
    (minimal_pdf().replace(b"startxref\n", b"startxref\n9"), "不是有效的 PDF"),  # bad offset
    (minimal_pdf(b"/AA << /O << /S /JavaScript /JS (app.alert(1)) >> >> "), "含有脚本"),
    (b"PK\x03\x04 a zip, or a docx", "须为 PDF 或"),
    ("整改承诺书：我单位承诺……".encode(), "须为 PDF 或"),
    (images.truncated_jpeg(), "须为 PDF 或"),
    (b"", "空文件"),
])
def test_a_letter_that_is_not_a_real_pdf_or_image_is_refused(db_session: Session, listed,
                                                             store, raw: bytes,
                                                             message: str) -> None:
    _, listing = listed
    with pytest.raises(UploadError, match=message):
        listings.attach_letter(db_session, store, listing, raw,
                                  actor=a_supervisor(db_session), limits=LIMITS)
    assert db_session.scalars(select(Attachment).where(
        Attachment.listing_id == listing.id)).all() == []
    assert store.names() == []


def test_an_attachment_has_one_owner_at_most(db_session: Session, listed) -> None:
    case, listing = listed
    photo = Attachment(stored_name="x.jpg", kind="photo", content_type="image/jpeg",
                       size_bytes=1, sha256="0" * 64, listing_id=listing.id,
                       case_event_id=case.events[-1].id)
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add(photo)
        db_session.flush()




def test_the_upload_sweep_keeps_a_listings_letter(db_session: Session, listed, store) -> None:
    from portal.domain.administration import retention

    _, listing = listed
    letter = listings.attach_letter(db_session, store, listing, minimal_pdf(),
                                       actor=a_supervisor(db_session), limits=LIMITS)
    letter.created_at = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    db_session.flush()
    report = retention.collect_uploads(db_session, store, grace_hours=0)
    assert report.staged_rows == 0 and report.orphan_files == 0
    assert store.get(letter.stored_name) == minimal_pdf()


def test_a_major_hazard_flagged_by_routing_is_delisted_after_closure(db_session: Session) -> None:
    case = case_at(db_session, "rectified", severity=Severity.MAJOR)
    assert case.supervision_level is SupervisionLevel.TOWNSHIP  # routing flagged it
    assert listings.active_listing(db_session, case) is None
    boss = a_supervisor(db_session)
    with pytest.raises(WorkflowError, match="销案批准后才能摘牌"):
        listings.delist_case(db_session, case, actor=boss)
    workflow.approve_closure(db_session, case, actor=boss)
    listings.delist_case(db_session, case, actor=boss)
    assert case.supervision_level is SupervisionLevel.NONE
    with pytest.raises(WorkflowError, match="未挂牌督办"):
        listings.delist_case(db_session, case, actor=boss)
