"""Intake: every tip enters here, whatever the channel (web form, staff entry, Open311 API).

Validation of the content lives here too, so that each channel refuses the same things with the
same Chinese messages.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from portal.domain.access import audit
from portal.domain.administration import townships, vocabulary
from portal.domain.clock import utcnow
from portal.domain.enums import Channel, TipStatus
from portal.domain.models import Attachment, Category, Tip, User, VenueType, Village
from portal.domain.reporting.identity import (
    IdentityCipher,
    new_receipt_code,
    normalize_phone,
    receipt_for_submission,
    receipt_hash,
    submission_hash,
)
from portal.domain.vetting import places

UNIT_NAME_MAX = 100
ADDRESS_MAX = 200
DESCRIPTION_MIN = 10
DESCRIPTION_MAX = 2000
NAME_MAX = 50
MESSAGE_MAX = 1000
# How long a resubmitted form shows its receipt again (its confirmation may have been lost).
RECEIPT_SHOWN_AGAIN_FOR = dt.timedelta(hours=24)

OTHER_TOWNSHIP_MESSAGE = "所选的村不属于本乡镇，请重新选择"

# Control characters other than line breaks and tabs have no place in a report.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")


class IntakeError(ValueError):
    """Invalid content: ``errors`` maps a field name to a Chinese message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("；".join(errors.values()))
        self.errors = errors


def clean_text(value: str | None, *, multiline: bool = False) -> str:
    """Normalise what people type: NFC, no control characters, trimmed."""
    text = unicodedata.normalize("NFC", value or "")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_RE.sub("", text)
    if not multiline:
        text = " ".join(text.split())
    else:
        text = "\n".join(line.rstrip() for line in text.split("\n"))
        text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


@dataclass
class TipInput:
    channel: Channel
    village_id: int | None
    category_id: int | None
    unit_name: str
    description: str
    venue_type_id: int | None = None
    address: str = ""
    observed_at: dt.datetime | None = None
    lat: float | None = None
    lon: float | None = None
    reporter_name: str = ""
    reporter_phone: str = ""
    wants_feedback: bool = False
    photos: list[Attachment] = field(default_factory=list)
    submission_key: str | None = None
    created_by: User | None = None
    # The township whose form (or Open311 jurisdiction) the tip came through: its village must
    # lie there. The tip has no township of its own: its village's is its township.
    township_id: int | None = None
    # What ``validate`` found for the ids above, kept for the tip and its confirmation: without
    # them each would be read again (the session keeps no object nobody holds).
    village: Village | None = field(default=None, init=False, repr=False, compare=False)
    category: Category | None = field(default=None, init=False, repr=False, compare=False)


def village_choices(session: Session, township_id: int | None = None
                    ) -> list[tuple[int, str]]:
    """The villages a resident may choose, as (id, label): a township's own by name, or the
    county's every village named with its township (names repeat across townships)."""
    return townships.village_choices(session, None if township_id is None else {township_id})


@dataclass(frozen=True)
class FormChoice:
    """A hazard category as the report form offers it."""

    id: int
    name: str
    urgent: bool
    description: str


@dataclass(frozen=True)
class FormVocabulary:
    """What a report form offers: the villages (``village_choices``), venue types and
    categories, active ones in their order. Plain values, so a view may keep them."""

    villages: tuple[tuple[int, str], ...]
    venue_types: tuple[tuple[int, str], ...]
    categories: tuple[FormChoice, ...]


def form_vocabulary(session: Session, township_id: int | None = None) -> FormVocabulary:
    # A township's form offers what the township uses (vocabulary.in_use_condition).
    venue_types = session.execute(
        select(VenueType.id, VenueType.name)
        .where(vocabulary.in_use_condition("venue_type", township_id))
        .order_by(VenueType.sort_order, VenueType.id))
    categories = session.execute(
        select(Category.id, Category.name, Category.urgent, Category.description)
        .where(vocabulary.in_use_condition("category", township_id))
        .order_by(Category.sort_order, Category.id))
    return FormVocabulary(
        villages=tuple(village_choices(session, township_id)),
        venue_types=tuple((id_, name) for id_, name in venue_types),
        categories=tuple(FormChoice(*row) for row in categories))


@dataclass(frozen=True)
class IntakeResult:
    tip: Tip
    # The receipt code to show; for a resubmitted form, the same code again within
    # RECEIPT_SHOWN_AGAIN_FOR of the first submission, None after that.
    receipt_code: str | None
    # True when a resubmitted form found the tip it had already created.
    duplicate_submission: bool = False


def validate(session: Session, data: TipInput, *, now: dt.datetime | None = None) -> TipInput:
    """Clean and check every field; raise IntakeError naming each bad field."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    data.unit_name = clean_text(data.unit_name)
    data.address = clean_text(data.address)
    data.description = clean_text(data.description, multiline=True)
    data.reporter_name = clean_text(data.reporter_name)
    data.reporter_phone = clean_text(data.reporter_phone)

    # With its township: every confirmation names the township's office.
    village = (session.get(Village, data.village_id, options=[joinedload(Village.township)])
               if data.village_id else None)
    data.village = village
    if village is None or not village.active:
        errors["village"] = "请选择隐患所在的村"
    elif data.created_by is not None and not places.may_file_in(data.created_by, village):
        # Staff enter tips for their own township's villages (county staff: any).
        errors["village"] = places.OUTSIDE_MESSAGE
    elif data.township_id is not None and village.township_id != data.township_id:
        errors["village"] = OTHER_TOWNSHIP_MESSAGE
    category = session.get(Category, data.category_id) if data.category_id else None
    data.category = category
    # The village's township may have switched a county entry off for itself.
    here = village.township if village is not None else None
    if category is None or not category.active:
        errors["category"] = "请选择隐患类别"
    elif here is not None and vocabulary.is_switched_off(session, "category", category.id,
                                                         here.id):
        errors["category"] = f"{here.name}不使用“{category.name}”这一类别，请选择其他类别"
    if data.venue_type_id is not None:
        venue = session.get(VenueType, data.venue_type_id)
        if venue is None or not venue.active:
            errors["venue_type"] = "请选择有效的场所类型"
        elif here is not None and vocabulary.is_switched_off(session, "venue_type", venue.id,
                                                             here.id):
            errors["venue_type"] = f"{here.name}不使用“{venue.name}”这一场所类型，请另选"
    if not data.unit_name:
        errors["unit_name"] = "请填写单位或场所名称（如“某某小卖部”“村东头加工厂”）"
    elif len(data.unit_name) > UNIT_NAME_MAX:
        errors["unit_name"] = f"单位或场所名称不能超过 {UNIT_NAME_MAX} 个字"
    if len(data.address) > ADDRESS_MAX:
        errors["address"] = f"地址不能超过 {ADDRESS_MAX} 个字"
    if len(data.description) < DESCRIPTION_MIN:
        errors["description"] = f"请描述隐患情况，至少 {DESCRIPTION_MIN} 个字"
    elif len(data.description) > DESCRIPTION_MAX:
        errors["description"] = f"隐患描述不能超过 {DESCRIPTION_MAX} 个字"
    if data.observed_at is not None:
        if data.observed_at > now + dt.timedelta(minutes=10):
            errors["observed_at"] = "发现时间不能晚于现在"
        elif data.observed_at < now - dt.timedelta(days=366):
            errors["observed_at"] = "发现时间不能早于一年前"
    lat, lon = data.lat, data.lon
    if (lat is None) != (lon is None) or (
        lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180)
    ):
        errors["location"] = "位置坐标无效，请重新获取或留空"
    if len(data.reporter_name) > NAME_MAX:
        errors["reporter_name"] = f"姓名不能超过 {NAME_MAX} 个字"
    if data.reporter_phone:
        phone = normalize_phone(data.reporter_phone)
        if phone is None:
            errors["reporter_phone"] = (
                "请填写正确的手机号（11 位）或带区号的固定电话，如 0355-1234567"
            )
        else:
            data.reporter_phone = phone
    if errors:
        raise IntakeError(errors)
    return data


def find_submission(session: Session, submission_key: str | None, *,
                    receipt_key: str) -> Tip | None:
    if not submission_key:
        return None
    return session.scalar(select(Tip).where(
        Tip.submission_key == submission_hash(receipt_key, submission_key)))


def resubmitted(tip: Tip, submission_key: str, *, receipt_key: str,
                now: dt.datetime | None = None) -> IntakeResult:
    """A form posted again: its tip, with the same receipt within RECEIPT_SHOWN_AGAIN_FOR."""
    fresh = (now or utcnow()) - tip.created_at < RECEIPT_SHOWN_AGAIN_FOR
    code = receipt_for_submission(receipt_key, submission_key) if fresh else None
    return IntakeResult(tip, code, duplicate_submission=True)


def submit_tip(
    session: Session, data: TipInput, *, cipher: IdentityCipher, receipt_key: str,
    now: dt.datetime | None = None, checked: bool = False,
) -> IntakeResult:
    """Validate and store one tip as pending, with its photos; return its receipt code.

    A form submitted again with the same submission key returns the tip it already created
    (see ``resubmitted``). A web form's code is derived from its submission key, so neither
    is ever stored: the tip keeps keyed hashes of both.

    ``checked``: the caller has, in this transaction, found no tip for the key
    (``find_submission``) and validated ``data`` (``validate``), so neither is repeated; a
    concurrent resubmission is still caught by the unique key below.
    """
    key = data.submission_key
    if not checked:
        existing = find_submission(session, key, receipt_key=receipt_key)
        if existing is not None and key:
            return resubmitted(existing, key, receipt_key=receipt_key, now=now)
        validate(session, data, now=now)
    code = receipt_for_submission(receipt_key, key) if key else new_receipt_code()
    tip = Tip(
        channel=data.channel,
        status=TipStatus.PENDING,
        village_id=data.village_id,
        category_id=data.category_id,
        venue_type_id=data.venue_type_id,
        unit_name=data.unit_name,
        address=data.address,
        lat=data.lat,
        lon=data.lon,
        description=data.description,
        observed_at=data.observed_at,
        reporter_name_enc=cipher.encrypt(data.reporter_name),
        reporter_phone_enc=cipher.encrypt(data.reporter_phone),
        wants_feedback=data.wants_feedback,
        receipt_hash=receipt_hash(receipt_key, code),
        submission_key=submission_hash(receipt_key, key) if key else None,
        created_by_id=data.created_by.id if data.created_by else None,
    )
    # As validated: the confirmation names the village's township and the category.
    if data.village is not None:
        tip.village = data.village
    if data.category is not None:
        tip.category = data.category
    try:
        with session.begin_nested():
            session.add(tip)
            session.flush()
    except IntegrityError:
        # A concurrent resubmission of the same form won the race.
        existing = find_submission(session, key, receipt_key=receipt_key)
        if existing is None or not key:
            raise
        return resubmitted(existing, key, receipt_key=receipt_key, now=now)
    for photo in data.photos:
        photo.tip_id = tip.id
    session.flush()
    if data.created_by is not None:
        audit.record(session, "tip.create", "tip", tip.id, actor=data.created_by,
                     after={"channel": data.channel.value})
    return IntakeResult(tip, code)


def find_by_receipt(session: Session, code: str, *, receipt_key: str) -> Tip | None:
    return session.scalar(select(Tip).where(Tip.receipt_hash == receipt_hash(receipt_key, code)))
