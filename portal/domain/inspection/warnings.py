"""Risk warnings (风险预警提示, item 3 of the plan): before holidays, in the fire season or
after a notable fire, staff publish a warning on the public site and send it by SMS to the
responsible persons of the register's units in scope.

The SMS is a registered template whose parameters are the warning's kind and period as short
labels (``sms.KINDS["sms_risk_warning"]``), never its text. A unit's contact is decrypted
here only to tell a mobile from a landline, and goes to the outbox encrypted; it is never
logged. Each send is an outbox row (with the warning and the unit in its payload), counted on
the warning, and the publication is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from portal.domain.access import audit
from portal.domain.access.permissions import Permission, has_permission, townships_of
from portal.domain.administration.townships import of_village
from portal.domain.casework import sms
from portal.domain.clock import utcnow
from portal.domain.disclosure.redaction import mask_personal_data
from portal.domain.inspection import register
from portal.domain.models import RiskWarning, Township, Unit, User, VenueType, Village
from portal.domain.reporting.identity import IdentityCipher, is_mobile, normalize_phone

TITLE_MAX = 100
TEXT_MAX = 2000
LONGEST_PERIOD = dt.timedelta(days=366)


@dataclass(frozen=True)
class Kind:
    label: str  # shown on the pages
    sms_label: str  # the SMS template's ``kind`` parameter (at most 6 characters)


# The kinds of warning, as data: the pages' labels and the SMS parameter.
KINDS: dict[str, Kind] = {
    "holiday": Kind("节假日", "节假日"),
    "fire_season": Kind("火灾高发季节", "火灾高发季节"),
    "after_fire": Kind("火灾事故警示", "火灾事故警示"),
    "other": Kind("其他", "消防安全"),
}


class WarningError(ValueError):
    """The step cannot be taken; the message is for the person acting."""


@dataclass
class WarningInput:
    kind: str
    title: str
    text: str
    starts_on: dt.date | None
    ends_on: dt.date | None
    township_id: int | None = None  # None: the county's
    village_ids: list[int] = field(default_factory=list)  # empty: all of the township
    venue_type_ids: list[int] = field(default_factory=list)  # empty: every venue type


def kind_label(kind: str) -> str:
    found = KINDS.get(kind)
    return found.label if found else kind


def period_label(starts_on: dt.date, ends_on: dt.date) -> str:
    """The period as the SMS names it: "12.30-1.3" (at most 11 characters)."""
    return f"{starts_on.month}.{starts_on.day}-{ends_on.month}.{ends_on.day}"


def sms_params(warning: RiskWarning) -> dict[str, str]:
    return {"kind": KINDS[warning.kind].sms_label,
            "period": period_label(warning.starts_on, warning.ends_on)}


# ---------------------------------------------------------------- reach


def _require(actor: User) -> None:
    if not has_permission(actor.role, Permission.WARNINGS_MANAGE):
        raise WarningError(f"您没有“{Permission.WARNINGS_MANAGE.label}”的权限")


def may_manage(actor: User, warning: RiskWarning) -> bool:
    """County staff manage every warning; a township's staff their township's own."""
    seen = townships_of(actor)
    return seen is None or (warning.township_id is not None and warning.township_id in seen)


def listed(session: Session, actor: User) -> list[RiskWarning]:
    """The warnings the actor's list shows: a township's staff, the county's and their
    township's; newest first."""
    seen = townships_of(actor)
    query = select(RiskWarning)
    if seen is not None:
        query = query.where(or_(RiskWarning.township_id.is_(None),
                                RiskWarning.township_id.in_(sorted(seen))))
    return list(session.scalars(query.order_by(RiskWarning.created_at.desc(),
                                               RiskWarning.id.desc())))


def shown(session: Session, actor: User, warning_id: int) -> RiskWarning | None:
    """One warning the actor's list shows, else None (the screen answers 404)."""
    warning = session.get(RiskWarning, warning_id)
    if warning is None:
        return None
    seen = townships_of(actor)
    if seen is None or warning.township_id is None or warning.township_id in seen:
        return warning
    return None


# ---------------------------------------------------------------- drafting


def _check(session: Session, data: WarningInput, actor: User) -> None:
    seen = townships_of(actor)
    if seen is not None and data.township_id not in seen:
        raise WarningError("只能发布本乡镇的风险预警提示")
    if data.township_id is not None:
        township = session.get(Township, data.township_id)
        if township is None or not township.active:
            raise WarningError("请选择有效的乡镇")
    if data.kind not in KINDS:
        raise WarningError("请选择预警类型")
    data.title = " ".join(data.title.split())
    data.text = data.text.strip()
    if not data.title or len(data.title) > TITLE_MAX:
        raise WarningError(f"请填写标题（不超过 {TITLE_MAX} 个字）")
    if not data.text or len(data.text) > TEXT_MAX:
        raise WarningError(f"请填写预警内容（不超过 {TEXT_MAX} 个字）")
    if data.starts_on is None or data.ends_on is None:
        raise WarningError("请填写预警的起止日期")
    if data.ends_on < data.starts_on:
        raise WarningError("结束日期不能早于开始日期")
    if data.ends_on - data.starts_on > LONGEST_PERIOD:
        raise WarningError("预警期间不能超过一年")
    data.village_ids = sorted(set(data.village_ids))
    if data.village_ids:
        villages = session.scalars(select(Village).where(Village.id.in_(data.village_ids))).all()
        wrong = [v for v in villages if not v.active or (
            data.township_id is not None and v.township_id != data.township_id)]
        if len(villages) != len(data.village_ids) or wrong:
            raise WarningError("所选的村须属于预警所在的乡镇")
    data.venue_type_ids = sorted(set(data.venue_type_ids))
    if data.venue_type_ids:
        found = session.scalars(select(VenueType.id).where(
            VenueType.id.in_(data.venue_type_ids), VenueType.active.is_(True))).all()
        if len(found) != len(data.venue_type_ids):
            raise WarningError("请选择有效的场所类型")


def create_warning(session: Session, data: WarningInput, *, actor: User,
                   ip: str = "") -> RiskWarning:
    """A draft warning: nothing is public or sent until it is published."""
    _require(actor)
    _check(session, data, actor)
    assert data.starts_on is not None and data.ends_on is not None
    warning = RiskWarning(
        township_id=data.township_id, kind=data.kind, title=data.title, text=data.text,
        village_ids=data.village_ids, venue_type_ids=data.venue_type_ids,
        starts_on=data.starts_on, ends_on=data.ends_on, created_by_id=actor.id)
    session.add(warning)
    session.flush()
    audit.record(session, "warning.create", "warning", warning.id, actor=actor, ip=ip,
                 after={"kind": warning.kind, "title": warning.title,
                        "township_id": warning.township_id,
                        "starts_on": warning.starts_on.isoformat(),
                        "ends_on": warning.ends_on.isoformat(),
                        "village_ids": warning.village_ids,
                        "venue_type_ids": warning.venue_type_ids})
    return warning


# ---------------------------------------------------------------- scope and sending


def _scope(warning: RiskWarning) -> Select[Unit]:
    places = None if warning.township_id is None else {warning.township_id}
    query = select(Unit).where(register.live(), of_village(Unit.village_id, places))
    if warning.village_ids:
        query = query.where(Unit.village_id.in_(list(warning.village_ids)))
    if warning.venue_type_ids:
        query = query.where(Unit.venue_type_id.in_(list(warning.venue_type_ids)))
    return query.order_by(Unit.id)


def units_in_scope(session: Session, warning: RiskWarning) -> list[Unit]:
    """The live units of the register the warning reaches: its villages (none named: every
    village of its township, or of the county) and venue types (none named: all)."""
    return list(session.scalars(_scope(warning)))


def _mobile(unit: Unit, cipher: IdentityCipher) -> str | None:
    raw = cipher.decrypt(unit.contact_enc) if unit.contact_enc else ""
    phone = normalize_phone(raw) if raw else None
    return phone if phone and is_mobile(phone) else None


def _send(session: Session, warning: RiskWarning, cipher: IdentityCipher) -> tuple[int, int]:
    """One SMS per distinct mobile among the units in scope; (sent, units in scope)."""
    params = sms_params(warning)
    numbers: set[str] = set()
    units = units_in_scope(session, warning)
    for unit in units:
        phone = _mobile(unit, cipher)
        if phone is None or phone in numbers:
            continue  # a landline or none: SMS cannot reach it; one message per number
        numbers.add(phone)
        row = sms.unit_warned(
            session, f"短信：风险预警提示 #{warning.id}（单位 #{unit.id}）", params,
            recipient_enc=cipher.encrypt(phone) or b"",
            dedupe_key=f"sms_risk_warning:{warning.id}:{unit.id}")
        if row is not None:
            row.payload = {"warning_id": warning.id, "unit_id": unit.id}
    session.flush()
    return len(numbers), len(units)


def publish(session: Session, warning: RiskWarning, *, actor: User, cipher: IdentityCipher,
            ip: str = "", now: dt.datetime | None = None) -> int:
    """Publish the warning (public site) and queue its SMS; return how many were queued."""
    _require(actor)
    if not may_manage(actor, warning):
        raise WarningError("只能发布本乡镇的风险预警提示")
    if warning.withdrawn_at is not None:
        raise WarningError("该预警已撤回，不能再发布")
    if warning.published_at is not None:
        raise WarningError("该预警已发布，短信已发送，不能重复发布")
    warning.published_at = now or utcnow()
    sent, reached = _send(session, warning, cipher)
    warning.sms_count = sent
    session.flush()
    audit.record(session, "warning.publish", "warning", warning.id, actor=actor, ip=ip,
                 before={"published": False},
                 after={"published": True, "sms_count": sent, "units_in_scope": reached})
    return sent


def withdraw(session: Session, warning: RiskWarning, *, actor: User, ip: str = "",
             now: dt.datetime | None = None) -> None:
    """Take the warning off the public site (the SMS already sent stay sent)."""
    _require(actor)
    if not may_manage(actor, warning):
        raise WarningError("只能撤回本乡镇的风险预警提示")
    if warning.withdrawn_at is not None:
        raise WarningError("该预警已撤回")
    warning.withdrawn_at = now or utcnow()
    session.flush()
    audit.record(session, "warning.withdraw", "warning", warning.id, actor=actor, ip=ip,
                 before={"withdrawn": False}, after={"withdrawn": True})


# ---------------------------------------------------------------- the public pages


@dataclass(frozen=True)
class PublicWarning:
    """A warning as the public reads it: text masked, scope named."""

    id: int
    kind: str
    title: str
    text: str
    starts_on: dt.date
    ends_on: dt.date
    published_at: dt.datetime
    township: str
    villages: tuple[str, ...]
    venue_types: tuple[str, ...]
    current: bool


def _names(session: Session, model: type[Village] | type[VenueType], ids: list[int]
           ) -> tuple[str, ...]:
    if not ids:
        return ()
    return tuple(session.scalars(select(model.name).where(model.id.in_(list(ids)))
                                 .order_by(model.id)))


def published_public(session: Session, *, township_id: int | None, today: dt.date,
                     limit: int = 50) -> list[PublicWarning]:
    """Published warnings not withdrawn, current ones first, then the coming and the past;
    on a township's pages, the county's and that township's."""
    query = select(RiskWarning).where(RiskWarning.published_at.is_not(None),
                                      RiskWarning.withdrawn_at.is_(None))
    if township_id is not None:
        query = query.where(or_(RiskWarning.township_id.is_(None),
                                RiskWarning.township_id == township_id))
    rows = session.scalars(query.order_by(RiskWarning.starts_on.desc(), RiskWarning.id.desc())
                           .limit(limit)).all()
    shown_rows = []
    for w in rows:
        assert w.published_at is not None
        shown_rows.append(PublicWarning(
            id=w.id, kind=kind_label(w.kind), title=mask_personal_data(w.title),
            text=mask_personal_data(w.text), starts_on=w.starts_on, ends_on=w.ends_on,
            published_at=w.published_at, township=w.township.name if w.township else "全县",
            villages=_names(session, Village, w.village_ids),
            venue_types=_names(session, VenueType, w.venue_type_ids),
            current=w.starts_on <= today <= w.ends_on))
    return sorted(shown_rows, key=lambda w: (not w.current, w.ends_on < today))
