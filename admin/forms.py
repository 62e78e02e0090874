"""Back-office forms. Every POST goes through Flask-WTF, so every POST carries a CSRF token."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FloatField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional

from portal.domain.administration import vocabulary
from portal.domain.enums import Channel, RejectReason, Role

REQUIRED = "此项必填"


def options(pairs: Iterable[tuple[Any, str]]) -> list[SelectChoice]:
    """Select options as WTForms wants them (raw tuples are deprecated)."""
    return [SelectChoice(value, label) for value, label in pairs]


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(REQUIRED), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired(REQUIRED), Length(max=256)])
    next = HiddenField()


class TotpForm(FlaskForm):
    code = StringField("验证码（6位数字）", validators=[DataRequired(REQUIRED), Length(max=10)])


class PasswordChangeForm(FlaskForm):
    current = PasswordField("当前密码", validators=[DataRequired(REQUIRED)])
    new = PasswordField("新密码（至少12个字符）", validators=[DataRequired(REQUIRED)])
    confirm = PasswordField("再次输入新密码", validators=[
        DataRequired(REQUIRED), EqualTo("new", "两次输入的新密码不一致")])


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token (merge, withhold, reveal, logout …)."""


class AcceptForm(FlaskForm):
    unit_name = StringField("隐患单位名称", validators=[DataRequired(REQUIRED), Length(max=100)])
    village = SelectField("所在村", coerce=int)
    category = SelectField("隐患类别", coerce=int)
    venue_type = SelectField("场所类型", coerce=int)
    address = StringField("地址", validators=[Optional(), Length(max=200)])
    internal_summary = TextAreaField("内部摘要（仅工作人员可见）",
                                     validators=[Optional(), Length(max=4000)])


class InspectionCaseForm(AcceptForm):
    lat = FloatField("纬度", validators=[Optional(), NumberRange(-90, 90)])
    lon = FloatField("经度", validators=[Optional(), NumberRange(-180, 180)])


class RejectForm(FlaskForm):
    reason = SelectField("不予受理原因", choices=options(RejectReason.choices()))
    message = TextAreaField("给举报人的说明（举报人凭回执码可见）",
                            validators=[DataRequired(REQUIRED), Length(max=2000)])


class AskForm(FlaskForm):
    body = TextAreaField("向举报人提问", validators=[DataRequired(REQUIRED), Length(max=2000)])


class RedactForm(FlaskForm):
    description = TextAreaField("举报内容（修改后）",
                                validators=[DataRequired(REQUIRED), Length(max=8000)])
    reason = StringField("修改原因", validators=[Optional(), Length(max=200)])


class UserCreateForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(REQUIRED), Length(max=64)])
    display_name = StringField("姓名", validators=[Optional(), Length(max=100)])
    role = SelectField("角色", choices=options(Role.choices()))
    # An officer works where the department is; this is for the other roles.
    township = SelectField("工作单位（部门经办人随所属部门；网格员必选所属乡镇）", coerce=str,
                           default="")
    department = SelectField("所属部门（部门经办人必选；网格员可选本乡镇的村委会）",
                             coerce=str)
    password = PasswordField("初始密码（至少12个字符）", validators=[DataRequired(REQUIRED)])
    totp_required = BooleanField("要求两步验证")


class UserEditForm(FlaskForm):
    display_name = StringField("姓名", validators=[Optional(), Length(max=100)])
    role = SelectField("角色", choices=options(Role.choices()))
    township = SelectField("工作单位（部门经办人随所属部门；网格员必选所属乡镇）", coerce=str,
                           default="")
    department = SelectField("所属部门（部门经办人必选；网格员可选本乡镇的村委会）",
                             coerce=str)
    totp_required = BooleanField("要求两步验证")


class SmsRemindersForm(FlaskForm):
    mobile = StringField("手机号码", validators=[Optional(), Length(max=20)])
    notify_sms = BooleanField("新派单、即将到期和已超期的提醒同时发短信给我")


class ResetPasswordForm(FlaskForm):
    password = PasswordField("新密码（至少12个字符）", validators=[DataRequired(REQUIRED)])


class SecuritySettingsForm(FlaskForm):
    require_2fa = BooleanField("管理员和审核员必须使用两步验证")


class CodeNameForm(FlaskForm):
    code = StringField("代码", validators=[DataRequired(REQUIRED), Length(max=64)])
    name = StringField("名称", validators=[DataRequired(REQUIRED), Length(max=100)])
    active = BooleanField("启用", default=True)


class VillageForm(CodeNameForm):
    township = SelectField("所属乡镇", coerce=int)
    # The village committee's position: the public map shows it for homes, never the home.
    latitude = FloatField("纬度（村委会位置，可不填）", validators=[Optional()])
    longitude = FloatField("经度", validators=[Optional()])


class CategoryForm(CodeNameForm):
    description = TextAreaField("说明", validators=[Optional(), Length(max=2000)])
    urgent = BooleanField("紧急（24小时内现场核查）")
    needs_penalty = BooleanField("需要行政处罚权")
    # The category's own §18 limit, checked against the legal maximum by the domain.
    check_hours = IntegerField("核查时限（小时；不填＝法定上限）", validators=[Optional()])
    check_working_days = IntegerField("核查时限（工作日；不填＝法定上限）",
                                      validators=[Optional()])


class TownshipForm(CodeNameForm):
    office_department = SelectField("乡镇消安办（空＝县消安办）", coerce=str, default="")
    penalty_department = SelectField("行政处罚部门（空＝全县设置）", coerce=str, default="")
    contact = StringField("联系方式", validators=[Optional(), Length(max=200)])
    sort_order = IntegerField("排序", default=0, validators=[Optional()])


class DepartmentForm(CodeNameForm):
    kind = SelectField("部门类型")
    township = SelectField("所属", coerce=int, default=0)
    # Only a county department lists the townships it serves; a township's serves its own.
    serves = SelectMultipleField("服务的乡镇（县级部门；不选＝全部乡镇）", coerce=int)
    contact = StringField("联系方式", validators=[Optional(), Length(max=200)])
    email = StringField("电子邮箱", validators=[Optional(), Length(max=200)])
    fire_powers_delegated = BooleanField(
        "已获赋予消防监督检查职权（可制发《消防监督检查规定》的文书）")
    document_numbering = SelectField("文书编号方式", default="auto", choices=options(
        vocabulary.DOCUMENT_NUMBERINGS.items()))
    document_prefix = StringField("文号前缀（不填＝部门名称，如“阳高消”）",
                                  validators=[Optional(), Length(max=32)])


class RoutingRuleForm(FlaskForm):
    township = SelectField("适用范围", coerce=int, default=0)
    category = SelectField("隐患类别（空＝任意）", coerce=int)
    venue_type = SelectField("场所类型（空＝任意）", coerce=int)
    village = SelectField("村（空＝任意）", coerce=int)
    lead = SelectField("牵头部门", coerce=int)
    assist = SelectMultipleField("配合部门", coerce=int)
    priority = IntegerField("优先级", default=0, validators=[Optional()])
    note = StringField("备注", validators=[Optional(), Length(max=200)])
    active = BooleanField("启用", default=True)


class RoutingPreviewForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    category = SelectField("隐患类别", coerce=int)
    venue_type = SelectField("场所类型", coerce=int)
    village = SelectField("村", coerce=int)


class StaffTipForm(FlaskForm):
    """A tip taken by phone, at the counter or from a grid inspector, typed in by staff."""

    channel = SelectField("举报渠道", choices=options(
        (c.value, c.label) for c in (Channel.PHONE, Channel.VISIT, Channel.GRID)))
    unit_name = StringField("单位或场所名称", validators=[DataRequired(REQUIRED), Length(max=100)])
    village = SelectField("所在村", coerce=int)
    category = SelectField("隐患类别", coerce=int)
    venue_type = SelectField("场所类型", coerce=int)
    address = StringField("地址", validators=[Optional(), Length(max=200)])
    description = TextAreaField("隐患情况", validators=[DataRequired(REQUIRED), Length(max=2000)])
    reporter_name = StringField("举报人姓名（保密）", validators=[Optional(), Length(max=50)])
    reporter_phone = StringField("举报人电话（保密）", validators=[Optional(), Length(max=30)])
    wants_feedback = BooleanField("举报人希望得到处理结果反馈")
