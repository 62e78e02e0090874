"""Each moderation action changes the tip as a moderator expects and leaves exactly one trace."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.domain.access import accounts
from portal.domain.clock import utcnow
from portal.domain.enums import (
    CaseStatus,
    Channel,
    MessageDirection,
    RejectReason,
    Role,
    TipStatus,
)
from portal.domain.models import AuditLog, Case, Tip, User
from portal.domain.vetting import moderation
from portal.domain.vetting.duplicates import find_duplicates, haversine_m, normalize_name
from tests import factories

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def moderator(db_session: Session):
    return accounts.create_user(db_session, "mod9", Role.MODERATOR, "long enough pass 9")


def audit_rows(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditLog)) or 0


def details(session: Session, **values) -> moderation.UnitDetails:
    base = {"name": "张三 小卖部", "village_id": factories.village(session).id,
            "category_id": factories.category(session).id,
            "venue_type_id": factories.venue_type(session).id, "internal_summary": "门口堆物"}
    return moderation.UnitDetails(**{**base, **values})


def test_accept_opens_a_case_in_triage_with_one_audit_row(db_session, moderator) -> None:
    tip = factories.make_tip(db_session)
    before = audit_rows(db_session)
    case = moderation.accept_tip(db_session, tip, details(db_session), actor=moderator)
    assert audit_rows(db_session) == before + 1
    assert tip.status is TipStatus.ACCEPTED and tip.case_id == case.id
    assert case.status is CaseStatus.TRIAGE and case.channel is Channel.WEB
    assert case.unit.name == "张三 小卖部" and case.unit.normalized_name == "张三小卖部"
    assert case.internal_summary == "门口堆物"
    row = db_session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert row.action == "tip.accept" and row.actor_id == moderator.id


def test_a_second_accept_for_the_same_unit_reuses_the_unit(db_session, moderator) -> None:
    first = moderation.accept_tip(db_session, factories.make_tip(db_session),
                                  details(db_session), actor=moderator)
    second = moderation.accept_tip(db_session, factories.make_tip(db_session),
                                   details(db_session, name="张三小卖部"), actor=moderator)
    assert first.unit_id == second.unit_id


def test_merge_joins_an_open_case_with_one_audit_row(db_session, moderator) -> None:
    case = factories.make_case(db_session)
    tip = factories.make_tip(db_session)
    before = audit_rows(db_session)
    moderation.merge_tip(db_session, tip, case, actor=moderator)
    assert audit_rows(db_session) == before + 1
    assert tip.status is TipStatus.MERGED and tip.case_id == case.id


def test_a_closed_case_cannot_take_a_merge(db_session, moderator) -> None:
    case = factories.make_case(db_session)
    case.status, case.closed_at, case.outcome = CaseStatus.CLOSED, utcnow(), "unfounded"
    case.routed_at = utcnow()
    db_session.flush()
    with pytest.raises(moderation.ModerationError, match="已办结"):
        moderation.merge_tip(db_session, factories.make_tip(db_session), case, actor=moderator)


def test_reject_keeps_reason_and_message_with_one_audit_row(db_session, moderator) -> None:
    tip = factories.make_tip(db_session)
    before = audit_rows(db_session)
    moderation.reject_tip(db_session, tip, RejectReason.OUT_OF_SCOPE, "此事由住建部门受理。",
                          actor=moderator)
    assert audit_rows(db_session) == before + 1
    assert tip.status is TipStatus.REJECTED and tip.reject_reason is RejectReason.OUT_OF_SCOPE
    assert tip.reject_message == "此事由住建部门受理。"
    with pytest.raises(moderation.ModerationError, match="已处理"):
        moderation.accept_tip(db_session, tip, details(db_session), actor=moderator)


def test_redact_keeps_the_original_for_moderators_with_one_audit_row(db_session,
                                                                     moderator) -> None:
    tip = factories.make_tip(db_session, description="老板王五电话13912345678，门口堆满纸箱。")
    before = audit_rows(db_session)
    moderation.redact_description(db_session, tip, "门口堆满纸箱。", "去掉个人信息",
                                  actor=moderator)
    assert audit_rows(db_session) == before + 1
    moderation.redact_description(db_session, tip, "门口堆满纸箱，堵住出口。", "", actor=moderator)
    assert tip.description == "门口堆满纸箱，堵住出口。"
    assert moderation.original_description(db_session, tip).startswith("老板王五电话")
    assert len(moderation.revisions(db_session, tip)) == 2
    row = db_session.scalars(select(AuditLog).where(AuditLog.action == "tip.redact")).first()
    assert "13912345678" not in str(row.after)


def test_reveal_is_audited_and_decrypts(db_session, moderator) -> None:
    tip = factories.make_tip(db_session, reporter_name_enc=b"n", reporter_phone_enc=b"p")
    before = audit_rows(db_session)
    identity = moderation.reveal_identity(
        db_session, tip, {b"n": "李四", b"p": "13800000000"}.__getitem__, actor=moderator)
    assert identity.name == "李四" and identity.phone == "13800000000"
    assert audit_rows(db_session) == before + 1
    row = db_session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert row.action == "tip.reveal_identity" and "李四" not in str(row.after)


def test_ask_adds_a_message_to_the_reporter(db_session, moderator) -> None:
    tip = factories.make_tip(db_session)
    message = moderation.ask_reporter(db_session, tip, "请问具体在哪条街？", actor=moderator)
    assert message.direction is MessageDirection.TO_REPORTER


def test_inspection_case_is_opened_without_a_tip(db_session, moderator) -> None:
    case = moderation.open_inspection_case(db_session, details(db_session), actor=moderator)
    assert case.channel is Channel.INSPECTION and case.status is CaseStatus.TRIAGE
    assert db_session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first().action \
        == "case.open"


def test_editing_an_audit_row_makes_audit_verify_fail_and_name_it(db_session, moderator,
                                                                  runner) -> None:
    tip = factories.make_tip(db_session)
    moderation.reject_tip(db_session, tip, RejectReason.SPAM, "无效信息", actor=moderator)
    db_session.commit()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "完整" in ok.output
    row = db_session.scalars(select(AuditLog).where(AuditLog.action == "tip.reject")).one()
    db_session.execute(update(AuditLog).where(AuditLog.id == row.id)
                       .values(after={"status": "accepted"}))
    db_session.commit()
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1
    assert f"第 {row.id} 条" in bad.output


# --- duplicates --------------------------------------------------------------------------

def test_names_normalise_across_width_space_and_punctuation() -> None:
    assert normalize_name("张三 小卖部（东）") == normalize_name("张三小卖部(东)")
    assert normalize_name("ＡＢＣ超市") == "abc超市"


def test_haversine_is_about_right() -> None:
    # 0.001° of latitude is about 111 m.
    assert 110 < haversine_m(39.0, 113.0, 39.001, 113.0) < 112


def test_duplicates_by_name_by_village_and_category_and_by_distance(db_session,
                                                                   moderator) -> None:
    tip = factories.make_tip(db_session, unit_name="张三小卖部", lat=39.0, lon=113.0)
    by_name = factories.make_case(db_session, unit=None, village=factories.village(db_session,
                                                                                  "V02"))
    by_name.unit.normalized_name = "张三小卖部"
    same_vc = factories.make_case(db_session, category=tip.category)
    near = factories.make_case(db_session, village=factories.village(db_session, "V03"),
                               category=factories.category(db_session, "other"))
    near.unit.lat, near.unit.lon = 39.0005, 113.0  # ~55 m
    far = factories.make_case(db_session, village=factories.village(db_session, "V03"),
                              category=factories.category(db_session, "other"))
    far.unit.lat, far.unit.lon = 39.01, 113.0  # ~1.1 km
    old = factories.make_case(db_session, category=tip.category,
                              created_at=utcnow() - dt.timedelta(days=120))
    old.unit.normalized_name = "别家"
    other_tip = factories.make_tip(db_session, unit_name="张三 小卖部")
    db_session.flush()
    found = find_duplicates(db_session, tip)
    cases = {c.id: m for c, m in found.cases}
    assert by_name.id in cases and "同一单位名称" in cases[by_name.id].reasons
    assert same_vc.id in cases
    assert near.id in cases and cases[near.id].distance_m < 100
    assert far.id not in cases and old.id not in cases
    assert other_tip.id in {t.id for t, _ in found.tips}
    assert tip.id not in {t.id for t, _ in found.tips}


def test_closed_cases_are_not_merge_targets(db_session) -> None:
    tip = factories.make_tip(db_session)
    closed = factories.make_case(db_session, category=tip.category, status=CaseStatus.CLOSED,
                                 closed_at=utcnow(), outcome="unfounded", routed_at=utcnow())
    assert closed.id not in {c.id for c, _ in find_duplicates(db_session, tip).cases}
    assert isinstance(closed, Case)


def test_blur_makes_a_processed_copy_and_withholds_the_original(db_session, moderator,
                                                                tmp_path) -> None:
    import io

    from PIL import Image

    from portal.domain.reporting import uploads
    from portal.storage import DirectoryStorage

    store = DirectoryStorage(tmp_path)
    limits = uploads.UploadLimits(max_bytes=10 * 1024 * 1024, max_pixels=40_000_000)
    tip = factories.make_tip(db_session)
    checkerboard = Image.new("RGB", (320, 240), "white")
    for x in range(0, 320, 20):
        for y in range(0, 240, 20):
            if (x + y) // 20 % 2:
                checkerboard.paste((0, 0, 0), (x, y, x + 20, y + 20))
    raw = io.BytesIO()
    checkerboard.save(raw, format="JPEG")
    original = uploads.store_image(db_session, store,
                                   uploads.process_image(raw.getvalue(), limits))
    original.tip_id = tip.id
    db_session.flush()
    before = audit_rows(db_session)
    copy = moderation.blur_photo(db_session, store, original, limits, actor=moderator)
    assert audit_rows(db_session) == before + 1
    assert original.withheld and not original.public
    assert copy.derived_from_id == original.id and copy.tip_id == tip.id
    with Image.open(io.BytesIO(store.get(copy.stored_name))) as blurred:
        # A black square's corner pixel is now grey: the edges are gone.
        assert 40 < blurred.convert("L").getpixel((20, 0)) < 215
    with pytest.raises(moderation.ModerationError):
        moderation.blur_photo(db_session, store, copy, limits, actor=moderator)


# --- case events through the timeline writer ------------------------------------------------


def test_a_merge_moves_the_case_s_version_and_logs_the_link_on_its_timeline(
    db_session, moderator
) -> None:
    from portal.domain.enums import CaseEventKind

    case = factories.make_case(db_session)
    version = case.version
    tip = factories.make_tip(db_session)
    moderation.merge_tip(db_session, tip, case, actor=moderator)
    assert case.version == version + 1  # a concurrent change of the case would have lost
    [linked] = [e for e in case.events if e.kind is CaseEventKind.TIP_LINKED]
    assert linked.data == {"tip_id": tip.id} and linked.actor_id == moderator.id


@pytest.fixture
def race_app(tmp_path):
    from tests.conftest import separate_database

    with separate_database(tmp_path, "moderation_race") as app:
        yield app


def test_a_merge_into_a_case_closed_meanwhile_is_refused_with_the_conflict_message(
    race_app,
) -> None:
    """The moderator's page read the case while it was open; an officer then closed it as
    unfounded. The merge must not link the tip to a case it did not see."""
    from portal.db import WRITE_OPTION, database
    from portal.domain.casework import workflow
    from portal.domain.casework.events import CONFLICT_MESSAGE
    from portal.domain.enums import CaseEventKind
    from portal.domain.models import Assignment, Tip, User
    from tests.domain.linkage_helpers import lead, officer, routed_case
    from tests.domain.linkage_helpers import moderator as a_moderator

    setup = database(race_app).sessionmaker()
    case = routed_case(setup, "blocked_escape")
    officer(setup, "FIRE", "fire-a")
    a_moderator(setup)
    tip = factories.make_tip(setup, unit_name="测试商店")
    case_id, tip_id, assignment_id = case.id, tip.id, lead(case).id
    setup.commit()
    setup.close()

    page = database(race_app).sessionmaker()
    stale, pending = page.get(Case, case_id), page.get(Tip, tip_id)
    mod = page.scalar(select(User).where(User.role == Role.MODERATOR))
    _ = stale.events, stale.assignments
    page.commit()

    other = database(race_app).sessionmaker()
    other.connection(execution_options={WRITE_OPTION: True})
    fire = other.scalar(select(User).where(User.username == "fire-a"))
    workflow.accept_assignment(other, other.get(Assignment, assignment_id), actor=fire)
    workflow.record_check(other, other.get(Case, case_id), actor=fire, confirmed=False,
                          findings="现场无堆物")
    workflow.approve_unfounded(other, other.get(Case, case_id),
                               actor=other.scalar(select(User).where(User.role == Role.MODERATOR)))
    other.commit()
    other.close()

    assert stale.status is not CaseStatus.CLOSED  # what the moderator's page shows
    with pytest.raises(moderation.ModerationError) as refused:
        moderation.merge_tip(page, pending, stale, actor=mod)
    assert str(refused.value) == CONFLICT_MESSAGE
    page.rollback()
    fresh = page.get(Tip, tip_id)
    page.refresh(fresh)
    assert fresh.status is TipStatus.PENDING and fresh.case_id is None
    closed = page.get(Case, case_id)
    page.refresh(closed)
    assert closed.status is CaseStatus.CLOSED
    assert CaseEventKind.TIP_LINKED not in [e.kind for e in closed.events]
    page.close()


def test_two_moderators_deciding_one_tip_at_once_the_second_is_told(tmp_path) -> None:
    """Both loaded the tip while it was pending; the first decision stands, the second is
    refused with a message (before tips had a version, the second write went through: it
    overwrote the first decision, or a check constraint turned it into a 500)."""
    from portal.db import database
    from tests.conftest import separate_database

    with separate_database(tmp_path, "tip_race") as race_app, race_app.app_context():
        setup = database(race_app).sessionmaker()
        first = accounts.create_user(setup, "mod-a", Role.MODERATOR, "long enough pass a")
        second = accounts.create_user(setup, "mod-b", Role.MODERATOR, "long enough pass b")
        tip_id = factories.make_tip(setup).id
        first_id, second_id = first.id, second.id
        setup.commit()
        setup.close()

        late = database(race_app).sessionmaker()
        stale = late.get(Tip, tip_id)
        late_actor = late.get(User, second_id)
        assert stale.status is TipStatus.PENDING
        late.commit()  # ends the read; the objects stay loaded (as a page drawn earlier)

        early = database(race_app).sessionmaker()
        moderation.reject_tip(early, early.get(Tip, tip_id), RejectReason.DUPLICATE,
                              "已有相同举报", actor=early.get(User, first_id))
        early.commit()
        early.close()

        with pytest.raises(moderation.ModerationError, match="刚刚被其他审核员处理过"):
            moderation.accept_tip(late, stale, details(late), actor=late_actor)
        late.rollback()
        fresh = late.get(Tip, tip_id)
        assert fresh.status is TipStatus.REJECTED and fresh.case_id is None
        assert late.scalar(select(func.count()).select_from(Case)) == 0
        late.close()
