"""Units' self-checks and commitments (issue 22): the one-time code, the submission, the
scan that turns unfixed problems into cases, and the public commitment."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.domain.clock import local_today
from portal.domain.enums import Channel, Role
from portal.domain.inspection import selfcheck
from portal.domain.inspection.checklists import Answer
from portal.domain.models import AuditLog, Case, Unit, User
from portal.domain.models.inspections import SelfCheck, SelfCheckCode
from portal.domain.reporting.identity import IdentityCipher
from tests import factories
from tests.admin.conftest import fast_password_hashing, make_user  # noqa: F401

KEY = "test-selfcheck-key-0123456789abcdef"
CIPHER = IdentityCipher(Fernet.generate_key().decode())
NOW = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)
SIGNER = "王承诺人"

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def unit(db_session: Session) -> Unit:
    found = Unit(name="阳光饭店", normalized_name="阳光饭店", village=factories.village(db_session),
                 venue_type=factories.venue_type(db_session, "self_built_business"))
    db_session.add(found)
    db_session.flush()
    return found


@pytest.fixture
def moderator(db_session: Session) -> User:
    return make_user(db_session, "sc-mod", Role.MODERATOR)


def _answers(unit: Unit, problem: str | None = None) -> dict[str, str]:
    items = selfcheck.checklist_of(unit).items
    return {i.code: (Answer.PROBLEM.value if i.code == problem else Answer.OK.value)
            for i in items}


def _submit(db: Session, code: str, unit: Unit, *, problem: str | None = None,
            fix_by: dt.date | None = None, now: dt.datetime = NOW, **values) -> SelfCheck:
    fields = {"answers": _answers(unit, problem), "problems": "", "fix_by": fix_by,
              "signer_name": SIGNER, "agreed": True, **values}
    return selfcheck.submit(db, code, cipher=CIPHER, key=KEY, now=now, **fields)


def test_a_units_code_opens_its_self_check_and_is_stored_only_hashed(
        db_session: Session, unit: Unit, moderator: User) -> None:
    issued = selfcheck.issue_code(db_session, unit, actor=moderator, key=KEY, now=NOW)
    row = selfcheck.code_for(db_session, issued.code, key=KEY, now=NOW)
    assert row is not None and row.unit_id == unit.id and row.cycle == 1
    assert row.expires_at == NOW + dt.timedelta(days=selfcheck.commitment().code_days)
    assert issued.code not in row.code_hash
    # Typed from paper: lower case, dashes and spaces are fine.
    typed = selfcheck.group_code(issued.code).lower().replace("-", " ")
    assert selfcheck.code_for(db_session, typed, key=KEY, now=NOW) is row
    assert selfcheck.checklist_of(unit).code == "self_built_business"


def test_the_submission_keeps_answers_and_commitment_and_the_signer_only_encrypted(
        db_session: Session, unit: Unit, moderator: User) -> None:
    issued = selfcheck.issue_code(db_session, unit, actor=moderator, key=KEY, now=NOW)
    fix_by = local_today(NOW) + dt.timedelta(days=10)
    check = _submit(db_session, issued.code, unit, problem="escape", fix_by=fix_by,
                    problems="楼梯间堆放杂物")
    assert check.answers["escape"] == "problem" and check.fix_by == fix_by
    assert check.problems == "楼梯间堆放杂物"
    assert check.commitment_text == selfcheck.commitment().text
    assert check.commitment_version == selfcheck.commitment().version
    assert check.signer_enc and SIGNER.encode() not in check.signer_enc
    assert CIPHER.decrypt(check.signer_enc) == SIGNER
    assert issued.row.used_at == NOW
    trail = json.dumps([(a.action, a.before, a.after) for a in
                        db_session.scalars(select(AuditLog))], ensure_ascii=False)
    assert "selfcheck.submit" in trail and SIGNER not in trail


def test_the_code_works_once(db_session: Session, unit: Unit, moderator: User) -> None:
    issued = selfcheck.issue_code(db_session, unit, actor=moderator, key=KEY, now=NOW)
    _submit(db_session, issued.code, unit)
    assert selfcheck.code_for(db_session, issued.code, key=KEY, now=NOW) is None
    with pytest.raises(selfcheck.SelfCheckError, match="已使用"):
        _submit(db_session, issued.code, unit)
    assert db_session.scalar(select(SelfCheck.id).where(SelfCheck.unit_id == unit.id)
                             .offset(1)) is None


def test_two_submissions_racing_cannot_both_pass(db_session: Session, unit: Unit,
                                                 moderator: User) -> None:
    """The other submission claims the code after this one read it: the conditional update
    refuses this one, whatever the row it read said."""
    issued = selfcheck.issue_code(db_session, unit, actor=moderator, key=KEY, now=NOW)
    assert selfcheck.code_for(db_session, issued.code, key=KEY, now=NOW) is not None
    db_session.execute(update(SelfCheckCode).where(SelfCheckCode.id == issued.row.id)
                       .values(used_at=NOW).execution_options(synchronize_session=False))
    assert issued.row.used_at is None  # what this submission still believes
    with pytest.raises(selfcheck.SelfCheckError) as refused:
        _submit(db_session, issued.code, unit)
    assert str(refused.value) == selfcheck.CODE_REFUSED
    assert db_session.scalar(select(SelfCheck).where(SelfCheck.unit_id == unit.id)) is None


def test_revoked_expired_and_wrong_codes_are_refused_with_one_message(
        db_session: Session, unit: Unit, moderator: User) -> None:
    revoked = selfcheck.issue_code(db_session, unit, actor=moderator, key=KEY, now=NOW)
    selfcheck.revoke(db_session, revoked.row, actor=moderator, now=NOW)
    other = Unit(name="另一家", normalized_name="另一家", village=unit.village)
    db_session.add(other)
    db_session.flush()
    expiring = selfcheck.issue_code(db_session, other, actor=moderator, key=KEY, now=NOW,
                                    days=3)
    later = NOW + dt.timedelta(days=3)
    messages = set()
    for code, now in ((revoked.code, NOW), (expiring.code, later), ("ABCD-EFGH-JKMN", NOW),
                      ("not a code", NOW)):
        assert selfcheck.code_for(db_session, code, key=KEY, now=now) is None
        with pytest.raises(selfcheck.SelfCheckError) as refused:
            _submit(db_session, code, unit, now=now)
        messages.add(str(refused.value))
    assert messages == {selfcheck.CODE_REFUSED}
    assert selfcheck.code_for(db_session, expiring.code, key=KEY,
                              now=later - dt.timedelta(seconds=1)) is not None
    with pytest.raises(selfcheck.SelfCheckError, match="已撤销"):
        selfcheck.revoke(db_session, revoked.row, actor=moderator)


def test_a_new_cycles_code_revokes_the_old_unused_one(db_session: Session, unit: Unit,
                                                      moderator: User) -> None:
    first = selfcheck.issue_code(db_session, unit, actor=moderator, key=KEY, now=NOW)
    second = selfcheck.issue_code(db_session, unit, actor=moderator, key=KEY, now=NOW)
    assert (first.row.cycle, second.row.cycle) == (1, 2)
    assert first.row.revoked_at == NOW and first.row.revoked_by_id == moderator.id
    assert selfcheck.code_for(db_session, first.code, key=KEY, now=NOW) is None
    _submit(db_session, second.code, unit)
    third = selfcheck.issue_code(db_session, unit, actor=moderator, key=KEY, now=NOW)
    assert third.row.cycle == 3 and second.row.revoked_at is None  # used: kept as it was
    assert [selfcheck.code_status(c, NOW) for c in selfcheck.codes_of(db_session, unit)] == [
        "有效", "已使用", "已撤销"]


def test_codes_are_issued_for_kept_units_only(db_session: Session, unit: Unit,
                                              moderator: User) -> None:
    duplicate = Unit(name="阳光饭店（重复）", normalized_name="阳光饭店重复",
                     village=unit.village, merged_into_id=unit.id)
    db_session.add(duplicate)
    db_session.flush()
    with pytest.raises(selfcheck.SelfCheckError, match="合并"):
        selfcheck.issue_code(db_session, duplicate, actor=moderator, key=KEY, now=NOW)
    with pytest.raises(selfcheck.SelfCheckError, match="有效天数"):
        selfcheck.issue_code(db_session, unit, actor=moderator, key=KEY, now=NOW, days=0)
    assert selfcheck.codes_of(db_session, unit) == []


def test_a_bad_submission_names_each_field_and_keeps_the_code(
        db_session: Session, unit: Unit, moderator: User) -> None:
    issued = selfcheck.issue_code(db_session, unit, actor=moderator, key=KEY, now=NOW)
    answers = _answers(unit, "escape")
    del answers["wiring"]
    too_late = local_today(NOW) + dt.timedelta(days=selfcheck.commitment().max_fix_days + 1)
    for fix_by, message in ((None, "请填写整改期限"), (too_late, "整改期限应在")):
        with pytest.raises(selfcheck.SelfCheckInvalid) as invalid:
            _submit(db_session, issued.code, unit, answers=answers, fix_by=fix_by,
                    signer_name=" ", agreed=False)
        errors = invalid.value.errors
        assert set(errors) == {"answer-wiring", "fix_by", "signer", "agreed"}
        assert message in errors["fix_by"]
    assert issued.row.used_at is None
    with pytest.raises(selfcheck.SelfCheckInvalid):
        selfcheck.read_fix_by("2026-13-01")
    assert selfcheck.read_fix_by("") is None


def test_a_problem_not_fixed_by_its_date_becomes_a_case_once(
        db_session: Session, unit: Unit, moderator: User) -> None:
    today = local_today(NOW)
    overdue = _submit(db_session, selfcheck.issue_code(
        db_session, unit, actor=moderator, key=KEY, now=NOW).code, unit,
        problem="wiring", fix_by=today + dt.timedelta(days=5), problems="厨房电线老化")
    fixed_unit = Unit(name="已整改商店", normalized_name="已整改商店", village=unit.village)
    waiting_unit = Unit(name="未到期商店", normalized_name="未到期商店", village=unit.village)
    db_session.add_all([fixed_unit, waiting_unit])
    db_session.flush()
    fixed = _submit(db_session, selfcheck.issue_code(
        db_session, fixed_unit, actor=moderator, key=KEY, now=NOW).code, fixed_unit,
        problem="escape", fix_by=today + dt.timedelta(days=5))
    selfcheck.mark_fixed(db_session, fixed, actor=moderator)
    waiting = _submit(db_session, selfcheck.issue_code(
        db_session, waiting_unit, actor=moderator, key=KEY, now=NOW).code, waiting_unit,
        problem="escape", fix_by=today + dt.timedelta(days=20))

    on_the_day = dt.datetime.combine(today + dt.timedelta(days=5), dt.time(12),
                                     tzinfo=dt.UTC)
    assert selfcheck.scan_overdue(db_session, actor=moderator, now=on_the_day).opened == []
    after = on_the_day + dt.timedelta(days=1)
    report = selfcheck.scan_overdue(db_session, actor=moderator, now=after)
    assert len(report.opened) == 1 and report.skipped == []
    case = db_session.get(Case, report.opened[0])
    assert case is not None and overdue.case_id == case.id
    assert case.unit_id == unit.id and case.channel is Channel.INSPECTION
    assert case.category.code == "wiring"
    assert "电气线路" in case.internal_summary and "厨房电线老化" in case.internal_summary
    assert fixed.case_id is None and waiting.case_id is None
    assert selfcheck.scan_overdue(db_session, actor=moderator, now=after).opened == []
    assert selfcheck.check_state(overdue, local_today(after)) == "逾期未改，已转为工单"
    with pytest.raises(selfcheck.SelfCheckError, match="工单"):
        selfcheck.mark_fixed(db_session, overdue, actor=moderator)
    listed = selfcheck.with_problems(db_session, None)
    assert listed[0] is waiting and {overdue, fixed} == set(listed[1:])


def test_a_self_check_without_problems_never_becomes_a_case(
        db_session: Session, unit: Unit, moderator: User) -> None:
    check = _submit(db_session, selfcheck.issue_code(
        db_session, unit, actor=moderator, key=KEY, now=NOW).code, unit,
        fix_by=local_today(NOW))  # a date with no problem is not kept
    assert check.fix_by is None
    later = NOW + dt.timedelta(days=90)
    assert selfcheck.scan_overdue(db_session, actor=moderator, now=later).opened == []
    with pytest.raises(selfcheck.SelfCheckError):
        selfcheck.mark_fixed(db_session, check, actor=moderator)


def test_the_public_commitment_is_text_and_date_never_the_name(
        db_session: Session, unit: Unit, moderator: User) -> None:
    assert selfcheck.public_commitment(db_session, unit) is None
    _submit(db_session, selfcheck.issue_code(db_session, unit, actor=moderator, key=KEY,
                                             now=NOW).code, unit)
    found = selfcheck.public_commitment(db_session, unit)
    assert found is not None
    text, signed_on = found
    assert text == selfcheck.commitment().text and signed_on == local_today(NOW)
    assert SIGNER not in repr(found)
    assert found.paragraphs[0].startswith("本单位是消防安全责任主体")


def test_the_commitment_file_is_checked() -> None:
    with pytest.raises(ValueError, match="code_days"):
        selfcheck.parse_commitment('version = 1\ntitle = "t"\ntext = "x"\nmax_fix_days = 3')
    assert selfcheck.commitment().title == "消防安全承诺书"
