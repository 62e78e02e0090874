"""Public forms. They parse and carry CSRF; content rules live in portal.domain.reporting.intake."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.widgets import (
    CheckboxInput,
    FileInput,
    HiddenInput,
    Select,
    TextArea,
    TextInput,
)

MAX_ID = 2**31 - 1


def optional_int(value: object) -> int | None:
    """An id from a select or radio; anything else (huge numbers included) is no choice."""
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def attributes(**kwargs: Any) -> Markup:
    """WTForms' ``html_params``, the same output in one pass: its ``Markup.format`` per
    attribute made drawing the report form's dozen fields cost more than its queries."""
    params = []
    for key, value in sorted(kwargs.items()):
        if value is False:
            continue
        key = key.rstrip("_")
        if key.startswith(("data_", "aria_")):
            key = key.replace("_", "-")
        if value is True:
            params.append(key)
        else:
            params.append(f'{key}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(params))  # noqa: S704  # nosec B704 - every value escaped


class PlainTextInput(TextInput):
    html_params = staticmethod(attributes)


class PlainHiddenInput(HiddenInput):
    html_params = staticmethod(attributes)


class PlainCheckboxInput(CheckboxInput):
    html_params = staticmethod(attributes)


class PlainFileInput(FileInput):
    html_params = staticmethod(attributes)


def _with_validation(widget: Any, field: Any, kwargs: dict[str, Any]) -> None:
    """The id and the validation attributes (required, maxlength …) WTForms' own widgets add."""
    kwargs.setdefault("id", field.id)
    flags = getattr(field, "flags", {})
    for name in widget.validation_attrs:
        if name not in kwargs and getattr(flags, name, False):
            kwargs[name] = getattr(flags, name)


class PlainTextArea(TextArea):
    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        _with_validation(self, field, kwargs)
        inner = escape(field._value())
        return Markup(  # noqa: S704  # nosec B704 - escaped attributes and text
            f"<textarea {attributes(name=field.name, **kwargs)}>\r\n{inner}</textarea>")


@lru_cache(maxsize=64)
def _options(choices: tuple[tuple[Any, str], ...], coerce: Any, selected: Any) -> str:
    return "".join(
        f'<option{" selected" if coerce(value) == selected else ""} value="{escape(value)}">'
        f"{escape(label)}</option>"
        for value, label in choices)


class PlainSelect(Select):
    """WTForms' select, the same markup, its options drawn once per list and choice: the
    county's form lists every village (a hundred and more options) on every view."""

    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        _with_validation(self, field, kwargs)
        options = _options(tuple(field.choices or ()), field.coerce, field.data)
        return Markup(  # noqa: S704  # nosec B704 - escaped attributes and labels
            f"<select {attributes(name=field.name, **kwargs)}>{options}</select>")


class ReportForm(FlaskForm):
    class Meta:
        # A resident may take a while; the token lives as long as the browser session.
        csrf_time_limit = None

    # Every field's widget is WTForms' own with ``attributes`` for ``html_params``: the same
    # markup, drawn in a fraction of the time (the form is the portal's busiest page).
    submission_key = HiddenField(widget=PlainHiddenInput())
    kept_photos = HiddenField(widget=PlainHiddenInput())
    village = SelectField("所在村", coerce=optional_int, validate_choice=False,
                          widget=PlainSelect())
    unit_name = StringField("单位或场所名称", widget=PlainTextInput())
    venue_type = SelectField("场所类型（可不选）", coerce=optional_int,
                             validate_choice=False, widget=PlainSelect())
    address = StringField("详细地址或附近标志物（可不填）", widget=PlainTextInput())
    lat = HiddenField(widget=PlainHiddenInput())
    lon = HiddenField(widget=PlainHiddenInput())
    category = RadioField("隐患类别", coerce=optional_int, validate_choice=False)
    description = TextAreaField("隐患情况描述", widget=PlainTextArea())
    observed_at = StringField("发现时间（可不填）", widget=PlainTextInput())
    photos = MultipleFileField("现场照片（可不传，最多 6 张）",
                               widget=PlainFileInput(multiple=True))
    reporter_name = StringField("您的姓名（可不填）", widget=PlainTextInput())
    reporter_phone = StringField("联系电话（可不填）", widget=PlainTextInput())
    wants_feedback = BooleanField("我希望得知办理结果", widget=PlainCheckboxInput())
    # Honeypot: hidden from people by CSS; bots fill every field.
    website = StringField("网址", widget=PlainTextInput())


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
