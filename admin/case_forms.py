"""Forms of the department desk, the routing screen and the calendar screen.

Every action form carries the case's ``version`` as it was when the page was drawn, so an
action taken on a page that someone else has since overtaken is refused with what happened
instead of being applied to a case the officer has not seen.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FileField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from admin.forms import REQUIRED, options
from portal.domain.enums import Severity

PHOTO_ATTRS = {"accept": "image/*"}
DATE_INVALID = "请选择有效的日期"


class CaseActionForm(FlaskForm):
    version = HiddenField()


def _photos(label: str = "现场照片（可多选，可直接拍照）") -> MultipleFileField:
    return MultipleFileField(label, render_kw=PHOTO_ATTRS)


def _public_photos() -> BooleanField:
    return BooleanField("这些照片可以随公开进展一起公布（不含人脸、车牌、电话等信息）")


class ReturnForm(CaseActionForm):
    reason = TextAreaField("退回理由（不属于本部门职责等）",
                           validators=[DataRequired(REQUIRED), Length(max=2000)])


class CheckForm(CaseActionForm):
    result = RadioField("核查结论", choices=options([
        ("confirmed", "属实：隐患存在，转入整改"),
        ("unfounded", "不属实：现场未发现举报的隐患，办结"),
    ]), validators=[InputRequired("请选择核查结论")])
    findings = TextAreaField("核查情况（内部）", validators=[DataRequired(REQUIRED),
                                                      Length(max=4000)])
    public_text = TextAreaField("公开说明（可不填，不填则使用标准表述）",
                                validators=[Optional(), Length(max=1000)])
    photos = _photos()
    photos_public = _public_photos()


class DeadlineForm(CaseActionForm):
    deadline = DateField("整改期限", validators=[InputRequired(DATE_INVALID)])
    notice_no = StringField("责令整改通知书编号", validators=[Optional(), Length(max=64)])
    public_text = TextAreaField("公开说明（可不填）", validators=[Optional(), Length(max=1000)])


class ProgressForm(CaseActionForm):
    internal_text = TextAreaField("内部进展（仅工作人员可见）",
                                  validators=[Optional(), Length(max=4000)])
    public_text = TextAreaField("公开进展（可能在公示页面公布，请勿写入个人信息）",
                                validators=[Optional(), Length(max=1000)])
    photos = _photos()
    photos_public = _public_photos()


class ExtensionForm(CaseActionForm):
    new_date = DateField("申请延期至", validators=[InputRequired(DATE_INVALID)])
    reason = TextAreaField("延期理由", validators=[DataRequired(REQUIRED), Length(max=2000)])


class ReportForm(CaseActionForm):
    report = TextAreaField("整改情况", validators=[DataRequired(REQUIRED), Length(max=4000)])
    public_text = TextAreaField("公开说明（可不填）", validators=[Optional(), Length(max=1000)])
    photos = _photos("整改后照片")
    photos_public = _public_photos()


class TransferForm(CaseActionForm):
    department = SelectField("移交给", coerce=int)
    reason = TextAreaField("移交理由", validators=[DataRequired(REQUIRED), Length(max=2000)])


class ClosureForm(CaseActionForm):
    note = TextAreaField("验收意见（内部）", validators=[Optional(), Length(max=2000)])
    public_text = TextAreaField("公开说明（可不填）", validators=[Optional(), Length(max=1000)])
    follow_up_by = DateField("回头看日期（可不填）", validators=[Optional()])


class SendBackForm(CaseActionForm):
    reason = TextAreaField("退回继续整改的理由", validators=[DataRequired(REQUIRED),
                                                       Length(max=2000)])


class ExtensionDecisionForm(CaseActionForm):
    decision = RadioField("审批结果", choices=options([
        ("approve", "同意延期"), ("refuse", "不同意延期")]),
        validators=[InputRequired("请选择审批结果")])
    reason = TextAreaField("意见（不同意时必填）", validators=[Optional(), Length(max=2000)])


class FollowUpForm(CaseActionForm):
    result = RadioField("回头看结论", choices=options([
        ("still_ok", "整改保持，未见反弹"),
        ("reopen", "隐患反弹，重新整改"),
    ]), validators=[InputRequired("请选择回头看结论")])
    findings = TextAreaField("回头看情况", validators=[DataRequired(REQUIRED), Length(max=4000)])
    new_deadline = DateField("重新整改期限（反弹时可填）", validators=[Optional()])


class RouteForm(CaseActionForm):
    lead = SelectField("牵头部门", coerce=int)
    assists = SelectMultipleField("配合部门", coerce=int, widget=ListWidget(prefix_label=False),
                                  option_widget=CheckboxInput())
    override_reason = TextAreaField("调整理由（与建议不同时必填）",
                                    validators=[Optional(), Length(max=1000)])


class SeverityForm(CaseActionForm):
    severity = SelectField("隐患等级", choices=options(Severity.choices()))
    basis = TextAreaField("判定依据（如对照 GB 35181 的条款）",
                          validators=[DataRequired(REQUIRED), Length(max=1000)])


class CalendarImportForm(FlaskForm):
    file = FileField("放假安排文件（.csv 或 .toml）", render_kw={"accept": ".csv,.toml"})
    text = TextAreaField("或直接粘贴内容", validators=[Optional(), Length(max=20000)])
    fmt = SelectField("粘贴内容的格式", choices=options([("csv", "CSV"), ("toml", "TOML")]))
    notice = StringField("依据的通知（如：国办发明电〔2026〕x号）",
                         validators=[Optional(), Length(max=200)])
