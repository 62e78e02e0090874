"""Units' self-checks and public commitments (自知、自查、自改 and 公示承诺, issue 22).

A unit of the register gets an access code for one self-check cycle, printed on its notice
with a QR code. The code is valid for one submission, expires after ``code_days`` of the
commitment file, can be revoked, and a new cycle's code revokes the unit's unused ones. Only
its keyed hash is stored (the receipt key, with a label of its own, so that a self-check code
can never pass for a receipt or a rating link). A wrong, used, revoked or expired code gets
one and the same message, so that codes cannot be probed.

With the code the unit's responsible person answers the checklist of the unit's venue type
and signs the commitment (the text is data: ``portal/data/commitment.toml``). The signer's
name is kept encrypted, never public, never audited; the public page shows the commitment
text, that the responsible person signed, and the date. A reported problem not fixed by the
unit's own date becomes a case (``scan_overdue``) unless staff recorded it fixed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import tomllib
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NamedTuple, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from portal.domain.access import audit
from portal.domain.administration.townships import of_village
from portal.domain.clock import local_today, to_local, utcnow
from portal.domain.inspection import checklists, register
from portal.domain.inspection.checklists import Answer, Checklist
from portal.domain.models import Category, Unit, User
from portal.domain.models.inspections import SelfCheck, SelfCheckCode
from portal.domain.vetting import moderation

PATH = Path(__file__).resolve().parent.parent.parent / "data" / "commitment.toml"

# 12 characters without the look-alikes 0/O, 1/I/L: about 59 bits, typed from paper.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12
_LABEL = b"self-check-code\x00"

CODE_REFUSED = ("自查码无效、已使用、已撤销或已过期。请核对通知书上的自查码；"
                "如需重新自查，请联系乡镇消防安全委员会办公室发放新的自查码。")
# Told to the browser that submitted, when it submits the same code again.
ALREADY_DONE = "本期自查已提交，无需重复提交。感谢您落实消防安全责任！"
SIGNER_MAX = 50
PROBLEMS_MAX = 2000


class Cipher(Protocol):
    def encrypt(self, value: str) -> bytes | None: ...


class SelfCheckError(ValueError):
    """A self-check step refused; the message says why, in Chinese."""


class SelfCheckInvalid(SelfCheckError):
    """A submission with fields to correct: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("请按提示修改后再提交")
        self.errors = errors


# ---------------------------------------------------------------- the commitment as data


@dataclass(frozen=True)
class Commitment:
    version: int
    title: str
    text: str
    code_days: int
    max_fix_days: int

    @property
    def paragraphs(self) -> list[str]:
        return paragraphs(self.text)


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.strip().split("\n\n") if p.strip()]


def parse_commitment(source: str) -> Commitment:
    data = tomllib.loads(source)
    for key in ("version", "code_days", "max_fix_days"):
        if not isinstance(data.get(key), int) or data[key] < 1:
            raise ValueError(f"commitment: {key} must be a positive integer")
    if not str(data.get("text", "")).strip() or not str(data.get("title", "")).strip():
        raise ValueError("commitment: title and text are required")
    return Commitment(data["version"], str(data["title"]).strip(), str(data["text"]).strip(),
                      data["code_days"], data["max_fix_days"])


@cache
def commitment() -> Commitment:
    return parse_commitment(PATH.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- codes


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw: str) -> str | None:
    """The code as typed (spaces, dashes, lower case, full-width characters allowed), or None."""
    value = unicodedata.normalize("NFKC", raw or "").upper()
    value = "".join(ch for ch in value if ch not in " -_—－\t")
    if len(value) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in value):
        return None
    return value


def group_code(code: str) -> str:
    return "-".join(code[i: i + 4] for i in range(0, len(code), 4))


def code_hash(key: str, code: str) -> str:
    return hmac.new(key.encode(), _LABEL + code.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Issued:
    """A code just issued: the clear ``code`` exists only here, to be printed once."""

    code: str
    row: SelfCheckCode


def issue_code(session: Session, unit: Unit, *, actor: User, key: str,
               days: int | None = None, now: dt.datetime | None = None) -> Issued:
    """A new cycle's code for ``unit``; the unit's earlier unused codes are revoked."""
    now = now or utcnow()
    if unit.merged_into_id is not None:
        raise SelfCheckError("该单位已合并到另一单位，请对合并后保留的单位发放自查码")
    limit = commitment().code_days
    days = limit if days is None else days
    if not 1 <= days <= 3 * limit:
        raise SelfCheckError(f"有效天数应为 1 至 {3 * limit} 天")
    previous = session.scalars(select(SelfCheckCode).where(
        SelfCheckCode.unit_id == unit.id, SelfCheckCode.used_at.is_(None),
        SelfCheckCode.revoked_at.is_(None))).all()
    for old in previous:
        old.revoked_at, old.revoked_by_id = now, actor.id
    cycle = (session.scalar(select(func.max(SelfCheckCode.cycle))
                            .where(SelfCheckCode.unit_id == unit.id)) or 0) + 1
    code = new_code()
    row = SelfCheckCode(unit_id=unit.id, cycle=cycle, code_hash=code_hash(key, code),
                        created_by_id=actor.id, created_at=now,
                        expires_at=now + dt.timedelta(days=days))
    session.add(row)
    session.flush()
    audit.record(session, "selfcheck.code_issue", "self_check_code", row.id, actor=actor,
                 after={"unit_id": unit.id, "cycle": cycle,
                        "expires_at": row.expires_at.isoformat(),
                        "revoked_codes": [old.id for old in previous]})
    return Issued(code, row)


def revoke(session: Session, row: SelfCheckCode, *, actor: User,
           now: dt.datetime | None = None) -> SelfCheckCode:
    if row.used_at is not None:
        raise SelfCheckError("该自查码已使用，不能撤销")
    if row.revoked_at is not None:
        raise SelfCheckError("该自查码已撤销")
    row.revoked_at, row.revoked_by_id = now or utcnow(), actor.id
    session.flush()
    audit.record(session, "selfcheck.code_revoke", "self_check_code", row.id, actor=actor,
                 after={"unit_id": row.unit_id, "cycle": row.cycle})
    return row


def code_for(session: Session, code: str, *, key: str,
             now: dt.datetime | None = None) -> SelfCheckCode | None:
    """The valid row ``code`` names, or None (wrong, used, revoked or expired alike)."""
    now = now or utcnow()
    clear = normalize_code(code)
    if clear is None:
        return None
    row = session.scalar(select(SelfCheckCode).where(
        SelfCheckCode.code_hash == code_hash(key, clear)).options(
            joinedload(SelfCheckCode.unit).joinedload(Unit.venue_type)))
    if row is None or row.used_at is not None or row.revoked_at is not None \
            or row.expires_at <= now:
        return None
    return row


def code_status(row: SelfCheckCode, now: dt.datetime | None = None) -> str:
    """For staff: 已使用, 已撤销, 已过期 or 有效."""
    if row.used_at is not None:
        return "已使用"
    if row.revoked_at is not None:
        return "已撤销"
    return "已过期" if row.expires_at <= (now or utcnow()) else "有效"


# ---------------------------------------------------------------- the submission


def checklist_of(unit: Unit) -> Checklist:
    return checklists.for_venue_type(unit.venue_type.code if unit.venue_type else None)


def read_fix_by(raw: str) -> dt.date | None:
    """The fix-by date as a form sends it (YYYY-MM-DD), None when empty."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise SelfCheckInvalid({"fix_by": "请按“年-月-日”填写整改期限"}) from None


def problem_items(checklist: Checklist, answers: Mapping[str, str]) -> list[checklists.Item]:
    return [i for i in checklist.items if answers.get(i.code) == Answer.PROBLEM.value]


def _validated(checklist: Checklist, answers: Mapping[str, str], problems: str,
               fix_by: dt.date | None, signer_name: str, agreed: bool,
               today: dt.date) -> dict[str, str]:
    allowed = {a.value for a in Answer}
    errors: dict[str, str] = {}
    for item in checklist.items:
        if answers.get(item.code) not in allowed:
            errors[f"answer-{item.code}"] = "请选择本项的自查情况"
    if len(problems) > PROBLEMS_MAX:
        errors["problems"] = f"问题说明不能超过 {PROBLEMS_MAX} 个字"
    if problem_items(checklist, answers):
        latest = today + dt.timedelta(days=commitment().max_fix_days)
        if fix_by is None:
            errors["fix_by"] = "存在需整改的问题，请填写整改期限"
        elif not today <= fix_by <= latest:
            errors["fix_by"] = (f"整改期限应在今天至 {latest:%Y-%m-%d} 之间"
                                f"（最长 {commitment().max_fix_days} 天）")
    if not signer_name:
        errors["signer"] = "请填写单位负责人姓名"
    elif len(signer_name) > SIGNER_MAX:
        errors["signer"] = f"姓名不能超过 {SIGNER_MAX} 个字"
    if not agreed:
        errors["agreed"] = "请阅读承诺书并勾选“我已阅读并承诺”"
    return errors


def submit(session: Session, code: str, *, answers: Mapping[str, str], problems: str,
           fix_by: dt.date | None, signer_name: str, agreed: bool, cipher: Cipher, key: str,
           now: dt.datetime | None = None) -> SelfCheck:
    """Store the self-check and the signed commitment, using up the code.

    The code is claimed by a conditional update: of two submissions racing with the same
    code, one stores its self-check and the other is refused with ``CODE_REFUSED``."""
    now = now or utcnow()
    row = code_for(session, code, key=key, now=now)
    if row is None:
        raise SelfCheckError(CODE_REFUSED)
    checklist = checklist_of(row.unit)
    problems, signer_name = (problems or "").strip(), (signer_name or "").strip()
    answers = {i.code: str(answers.get(i.code, "")) for i in checklist.items}
    errors = _validated(checklist, answers, problems, fix_by, signer_name, agreed,
                        local_today(now))
    if errors:
        raise SelfCheckInvalid(errors)
    reported = problem_items(checklist, answers)
    claimed = session.execute(
        update(SelfCheckCode)
        .where(SelfCheckCode.id == row.id, SelfCheckCode.used_at.is_(None),
               SelfCheckCode.revoked_at.is_(None), SelfCheckCode.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False))
    if getattr(claimed, "rowcount", 0) != 1:
        raise SelfCheckError(CODE_REFUSED)
    session.expire(row, ["used_at"])
    text = commitment()
    check = SelfCheck(unit_id=row.unit_id, code_id=row.id, checklist_code=checklist.code,
                      checklist_version=checklist.version, answers=answers,
                      problems=problems, fix_by=fix_by if reported else None,
                      signer_enc=cipher.encrypt(signer_name),
                      commitment_version=text.version, commitment_text=text.text,
                      signed_at=now)
    session.add(check)
    session.flush()
    # Never the signer's name: the audit trail is read by staff who must not learn it here.
    audit.record(session, "selfcheck.submit", "self_check", check.id, after={
        "unit_id": row.unit_id, "code_id": row.id, "checklist_code": checklist.code,
        "checklist_version": checklist.version, "problem_items": [i.code for i in reported],
        "fix_by": check.fix_by.isoformat() if check.fix_by else None,
        "commitment_version": text.version})
    return check


# ---------------------------------------------------------------- staff: lists and fixes


def code_in_scope(session: Session, user: User, code_id: int) -> SelfCheckCode | None:
    """The code if its unit lies in the user's townships (``register.in_scope``)."""
    return session.scalar(select(SelfCheckCode).join(Unit, Unit.id == SelfCheckCode.unit_id)
                          .where(SelfCheckCode.id == code_id, register.in_scope(user)))


def codes_of(session: Session, unit: Unit) -> list[SelfCheckCode]:
    return list(session.scalars(select(SelfCheckCode).where(SelfCheckCode.unit_id == unit.id)
                                .order_by(SelfCheckCode.cycle.desc())))


def checks_of(session: Session, unit: Unit) -> list[SelfCheck]:
    return list(session.scalars(select(SelfCheck).where(SelfCheck.unit_id == unit.id)
                                .order_by(SelfCheck.signed_at.desc(), SelfCheck.id.desc())))


def with_problems(session: Session, townships: Collection[int] | None) -> list[SelfCheck]:
    """The self-checks that reported problems, in ``townships`` (None: all): those still
    open first, by their fix-by date; then the fixed ones and those become cases."""
    rows = session.scalars(
        select(SelfCheck).join(Unit, Unit.id == SelfCheck.unit_id)
        .where(SelfCheck.fix_by.is_not(None), of_village(Unit.village_id, townships))
        .options(joinedload(SelfCheck.unit).joinedload(Unit.village))
        .order_by(SelfCheck.fix_by, SelfCheck.id)).all()
    return sorted(rows, key=lambda c: c.fixed_at is not None or c.case_id is not None)


def answer_lines(check: SelfCheck) -> list[tuple[str, str, bool]]:
    """Each item answered, read against the checklist it was answered on: (text, answer,
    whether it is a problem to fix)."""
    checklist = checklists.by_code(check.checklist_code) or checklist_of(check.unit)
    lines = []
    for item in checklist.items:
        value = check.answers.get(item.code)
        if value in {a.value for a in Answer}:
            answer = Answer(value)
            lines.append((item.text, answer.label, answer is Answer.PROBLEM))
    return lines


def check_state(check: SelfCheck, today: dt.date) -> str:
    if check.fix_by is None:
        return "无需整改"
    if check.case_id is not None:
        return "逾期未改，已转为工单"
    if check.fixed_at is not None:
        return "已整改"
    return "已超过整改期限" if check.fix_by < today else "整改中"


def mark_fixed(session: Session, check: SelfCheck, *, actor: User,
               now: dt.datetime | None = None) -> SelfCheck:
    """Staff record that the unit fixed the problems it reported (no case is opened then)."""
    if check.fix_by is None:
        raise SelfCheckError("本次自查未报告需整改的问题")
    if check.case_id is not None:
        raise SelfCheckError(f"已逾期转为工单 #{check.case_id}，请在工单中办理")
    if check.fixed_at is not None:
        raise SelfCheckError("已登记整改完成")
    check.fixed_at = now or utcnow()
    session.flush()
    audit.record(session, "selfcheck.fixed", "self_check", check.id, actor=actor,
                 after={"unit_id": check.unit_id, "fixed_at": check.fixed_at.isoformat()})
    return check


# ---------------------------------------------------------------- overdue problems → cases


@dataclass
class ScanReport:
    opened: list[int] = field(default_factory=list)  # case ids
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (self-check id, why)


def _category(session: Session, check: SelfCheck) -> Category | None:
    checklist = checklists.by_code(check.checklist_code) or checklist_of(check.unit)
    codes = [i.category for i in problem_items(checklist, check.answers)] + ["other"]
    for code in codes:
        category = session.scalar(select(Category).where(Category.code == code))
        if category is not None and category.active:
            return category
    return None


def _summary(check: SelfCheck) -> str:
    checklist = checklists.by_code(check.checklist_code) or checklist_of(check.unit)
    items = "；".join(i.text for i in problem_items(checklist, check.answers))
    assert check.fix_by is not None
    lines = [f"单位自查报告的问题逾期未整改（单位自定整改期限 {check.fix_by:%Y-%m-%d}）：",
             items or "（见自查记录）"]
    if check.problems:
        lines.append(f"单位说明：{check.problems}")
    return "\n".join(lines)


def scan_overdue(session: Session, *, actor: User, now: dt.datetime | None = None
                 ) -> ScanReport:
    """Open a case for each self-check whose problems were not fixed by its own date (the
    day after ``fix_by``). Idempotent: a self-check with a case is never taken again.
    ``actor`` is the staff account the cases are opened as (a county moderator for a scan
    of every township)."""
    today = local_today(now)
    report = ScanReport()
    due = session.scalars(
        select(SelfCheck).where(SelfCheck.fix_by.is_not(None), SelfCheck.fix_by < today,
                                SelfCheck.fixed_at.is_(None), SelfCheck.case_id.is_(None))
        .options(joinedload(SelfCheck.unit)).order_by(SelfCheck.id)).all()
    for check in due:
        unit = check.unit
        category = _category(session, check)
        if category is None:
            report.skipped.append((check.id, "没有可用的隐患类别"))
            continue
        details = moderation.UnitDetails(
            name=unit.name, village_id=unit.village_id, category_id=category.id,
            venue_type_id=unit.venue_type_id, address=unit.address, lat=unit.lat,
            lon=unit.lon, internal_summary=_summary(check))
        try:
            with session.begin_nested():
                case = moderation.open_inspection_case(session, details, actor=actor)
                check.case_id = case.id
                session.flush()
        except moderation.ModerationError as exc:
            report.skipped.append((check.id, str(exc)))
            continue
        audit.record(session, "selfcheck.overdue_case", "self_check", check.id, actor=actor,
                     after={"unit_id": check.unit_id, "case_id": case.id,
                            "fix_by": check.fix_by.isoformat() if check.fix_by else None})
        report.opened.append(case.id)
    return report


# ---------------------------------------------------------------- the public commitment


class PublicCommitment(NamedTuple):
    text: str
    signed_on: dt.date

    @property
    def paragraphs(self) -> list[str]:
        return paragraphs(self.text)


def committed_unit(session: Session, unit_id: int, *,
                   township_id: int | None = None) -> Unit | None:
    """The live unit ``unit_id`` if it signed a commitment (in the township, when one is
    given): a signed commitment is public (公示承诺), so the unit has a public page even
    before any of its hazards is disclosed."""
    unit = session.get(Unit, unit_id)
    if unit is None or unit.merged_into_id is not None:
        return None
    if township_id is not None and unit.village.township_id != township_id:
        return None
    return unit if public_commitment(session, unit) is not None else None


def public_commitment(session: Session, unit: Unit) -> PublicCommitment | None:
    """The unit's latest signed commitment for its public page: the text and the local date
    it was signed on; never who signed."""
    latest = session.execute(
        select(SelfCheck.commitment_text, SelfCheck.signed_at)
        .where(SelfCheck.unit_id == unit.id, SelfCheck.commitment_text != "")
        .order_by(SelfCheck.signed_at.desc(), SelfCheck.id.desc()).limit(1)).first()
    if latest is None:
        return None
    return PublicCommitment(latest.commitment_text, to_local(latest.signed_at).date())
