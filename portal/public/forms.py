"""Public forms. They parse and carry CSRF; content rules live in portal.domain.reporting.intake."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)

MAX_ID = 2**31 - 1


def optional_int(value: object) -> int | None:
    """An id from a select or radio; anything else (huge numbers included) is no choice."""
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


class ReportForm(FlaskForm):
    class Meta:
        # A resident may take a while; the token lives as long as the browser session.
        csrf_time_limit = None

    submission_key = HiddenField()
    kept_photos = HiddenField()
    village = SelectField("所在村", coerce=optional_int, validate_choice=False)
    unit_name = StringField("单位或场所名称")
    venue_type = SelectField("场所类型（可不选）", coerce=optional_int, validate_choice=False)
    address = StringField("详细地址或附近标志物（可不填）")
    lat = HiddenField()
    lon = HiddenField()
    category = RadioField("隐患类别", coerce=optional_int, validate_choice=False)
    description = TextAreaField("隐患情况描述")
    observed_at = StringField("发现时间（可不填）")
    photos = MultipleFileField("现场照片（可不传，最多 6 张）")
    reporter_name = StringField("您的姓名（可不填）")
    reporter_phone = StringField("联系电话（可不填）")
    wants_feedback = BooleanField("我希望得知办理结果")
    # Honeypot: hidden from people by CSS; bots fill every field.
    website = StringField("网址")


class TrackForm(FlaskForm):
    class Meta:
        csrf_time_limit = None

    code = StringField("16 位查询码")


class ReplyForm(FlaskForm):
    class Meta:
        csrf_time_limit = None

    body = TextAreaField("补充说明或回复")
    photos = MultipleFileField("补充照片（可不传）")


class WithdrawIdentityForm(FlaskForm):
    """The reporter withdraws the name and phone they left (nothing to fill in)."""

    class Meta:
        csrf_time_limit = None
