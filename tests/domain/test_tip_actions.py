"""Which moderation actions a tip page offers: for every tip status and role, an offered action
succeeds through the moderation function, and a refused one raises the very reason given."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.enums import CaseStatus, RejectReason, Role, TipStatus
from portal.domain.models import Attachment, Tip, User
from portal.domain.reporting import uploads
from portal.domain.vetting import moderation
from portal.domain.vetting.actions import PHOTO_ACTIONS, TipAction, by_key, tip_actions
from portal.storage import DirectoryStorage, Storage
from tests import factories
from tests.domain.linkage_helpers import staff

pytestmark = pytest.mark.usefixtures("app")

A = TipAction
TIP_ACTIONS = [a for a in TipAction if a not in PHOTO_ACTIONS]
DEPARTMENT = {Role.OFFICER: "FIRE"}
LIMITS = uploads.UploadLimits(max_bytes=10 * 1024 * 1024, max_pixels=40_000_000)
NOT_MODERATOR = "您没有“审核举报”的权限"
DECIDED = "该举报已处理（{}），不能重复处理"


def actor(session: Session, role: Role) -> User:
    return staff(session, role, DEPARTMENT.get(role))


def tip_in(session: Session, status: TipStatus) -> Tip:
    """A tip with a reporter's identity, in ``status`` as the database's checks want it."""
    values: dict[str, Any] = {"status": status, "reporter_name_enc": b"n",
                              "reporter_phone_enc": b"p"}
    if status is not TipStatus.PENDING:
        values["decided_at"] = utcnow()
    if status in (TipStatus.ACCEPTED, TipStatus.MERGED):
        values["case_id"] = factories.make_case(session).id
    if status is TipStatus.REJECTED:
        values["reject_reason"], values["reject_message"] = RejectReason.SPAM, "无效信息"
    return factories.make_tip(session, **values)


def details(session: Session) -> moderation.UnitDetails:
    return moderation.UnitDetails(name="张三小卖部", village_id=factories.village(session).id,
                                  category_id=factories.category(session).id)


PERFORM: dict[TipAction, Callable[[Session, Tip, User], object]] = {
    A.ACCEPT: lambda s, tip, who: moderation.accept_tip(s, tip, details(s), actor=who),
    A.MERGE: lambda s, tip, who: moderation.merge_tip(s, tip, factories.make_case(s),
                                                      actor=who),
    A.REJECT: lambda s, tip, who: moderation.reject_tip(s, tip, RejectReason.DUPLICATE,
                                                        "已有人举报", actor=who),
    A.ASK: lambda s, tip, who: moderation.ask_reporter(s, tip, "具体在哪？", actor=who),
    A.REDACT: lambda s, tip, who: moderation.redact_description(s, tip, "门口堆物。", "",
                                                                actor=who),
    A.REVEAL: lambda s, tip, who: moderation.reveal_identity(
        s, tip, {b"n": "李四", b"p": "13800000000"}.__getitem__, actor=who),
}


def expected_refusal(status: TipStatus, role: Role, action: TipAction) -> str:
    if role is not Role.MODERATOR:
        return "您没有“查看举报人身份”的权限" if action is A.REVEAL else NOT_MODERATOR
    if status is not TipStatus.PENDING and action in (A.ACCEPT, A.MERGE, A.REJECT):
        return DECIDED.format(status.label)
    return ""


@pytest.mark.parametrize("action", TIP_ACTIONS, ids=str)
@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("status", list(TipStatus), ids=str)
def test_each_tip_action_is_offered_exactly_when_it_succeeds(
    db_session: Session, status: TipStatus, role: Role, action: TipAction
) -> None:
    tip, who = tip_in(db_session, status), actor(db_session, role)
    offered = by_key(tip_actions(tip, who))[action.value]
    assert offered.reason == expected_refusal(status, role, action)
    if offered.allowed:
        PERFORM[action](db_session, tip, who)
    else:
        with pytest.raises(moderation.ModerationError) as refused:
            PERFORM[action](db_session, tip, who)
        assert str(refused.value) == offered.reason


def test_a_merge_into_a_closed_case_is_refused_with_the_same_reason(db_session: Session) -> None:
    tip, who = tip_in(db_session, TipStatus.PENDING), actor(db_session, Role.MODERATOR)
    closed = factories.make_case(db_session, status=CaseStatus.CLOSED, closed_at=utcnow(),
                                 outcome="unfounded", routed_at=utcnow())
    assert by_key(tip_actions(tip, who))["merge"].allowed  # some open case will do
    merge = by_key(tip_actions(tip, who, into=closed))["merge"]
    assert merge.reason == "该工单已办结，不能合并；请另行立案"
    with pytest.raises(moderation.ModerationError) as refused:
        moderation.merge_tip(db_session, tip, closed, actor=who)
    assert str(refused.value) == merge.reason
    assert tip.status is TipStatus.PENDING


def test_an_anonymous_reporter_cannot_be_revealed(db_session: Session) -> None:
    tip, who = factories.make_tip(db_session), actor(db_session, Role.MODERATOR)
    reveal = by_key(tip_actions(tip, who))["reveal"]
    assert reveal.reason == "举报人未留姓名和电话"
    with pytest.raises(moderation.ModerationError, match=reveal.reason):
        PERFORM[A.REVEAL](db_session, tip, who)


# ---------------------------------------------------------------- photos


def _photo(session: Session, store: Storage, tip: Tip) -> Attachment:
    raw = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(raw, format="JPEG")
    photo = uploads.store_image(session, store, uploads.process_image(raw.getvalue(), LIMITS))
    photo.tip_id = tip.id
    session.flush()
    return photo


PHOTO_STATES = ("original", "withheld", "blurred copy")


def photo_in(session: Session, store: Storage, state: str) -> tuple[Tip, Attachment]:
    tip = tip_in(session, TipStatus.PENDING)
    photo = _photo(session, store, tip)
    if state == "withheld":
        photo.withheld = True
    if state == "blurred copy":
        photo = moderation.blur_photo(session, store, photo, LIMITS,
                                      actor=actor(session, Role.MODERATOR))
    session.flush()
    session.refresh(tip)
    return tip, photo


def expected_photo_refusal(state: str, role: Role, action: TipAction) -> str:
    if role is not Role.MODERATOR:
        return NOT_MODERATOR
    if state == "withheld":
        return "该照片已撤下，仅审核员可见"
    if state == "blurred copy" and action is A.BLUR:
        return "这已是处理过的照片，请对原照片操作"
    return ""


@pytest.mark.parametrize("action", PHOTO_ACTIONS, ids=str)
@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("state", PHOTO_STATES)
def test_each_photo_action_is_offered_exactly_when_it_succeeds(
    db_session: Session, tmp_path, state: str, role: Role, action: TipAction
) -> None:
    store = DirectoryStorage(tmp_path)
    tip, photo = photo_in(db_session, store, state)
    who = actor(db_session, role)
    offered = by_key(tip_actions(tip, who))[f"{action.value}:{photo.id}"]
    assert offered.reason == expected_photo_refusal(state, role, action)

    def perform() -> object:
        if action is A.WITHHOLD:
            return moderation.withhold_photo(db_session, photo, actor=who)
        return moderation.blur_photo(db_session, store, photo, LIMITS, actor=who)

    if offered.allowed:
        perform()
        assert photo.withheld
    else:
        with pytest.raises(moderation.ModerationError) as refused:
            perform()
        assert str(refused.value) == offered.reason


def test_every_action_is_answered_once_for_the_tip_and_once_per_photo(db_session: Session,
                                                                      tmp_path) -> None:
    store = DirectoryStorage(tmp_path)
    tip = tip_in(db_session, TipStatus.PENDING)
    first, second = _photo(db_session, store, tip), _photo(db_session, store, tip)
    db_session.refresh(tip)
    keys = [a.key for a in tip_actions(tip, actor(db_session, Role.MODERATOR))]
    assert sorted(keys) == sorted([a.value for a in TIP_ACTIONS] + [
        f"{a.value}:{p.id}" for p in (first, second) for a in PHOTO_ACTIONS])
