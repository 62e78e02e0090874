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
        ("unfounded", "不属实：现场未发现举报的隐患，报乡消安办审核后办结"),
    ]), validators=[InputRequired("请选择核查结论")])
    findings = TextAreaField("核查情况（内部）", validators=[DataRequired(REQUIRED),
                                                      Length(max=4000)])
    public_text = TextAreaField(
        "公开说明（可不填，不填则使用标准表述；不属实的，即告知举报人的理由）",
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
    report = TextAreaField("复查情况（现场复查整改是否到位）",
                           validators=[DataRequired(REQUIRED), Length(max=4000)])
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


class UnfoundedReviewForm(CaseActionForm):
    decision = RadioField("审核结果", choices=options([
        ("approve", "同意：举报不属实，办结并告知举报人"),
        ("refuse", "不同意：退回牵头部门重新核查")]),
        validators=[InputRequired("请选择审核结果")])
    reason = TextAreaField("告知举报人的理由（同意时可不填，沿用核查说明）；不同意的理由",
                           validators=[Optional(), Length(max=1000)])


class _Checkboxes(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: object) -> None:
        # Choices come from the edition in force; an id the edition does not know is refused
        # by the domain with its own message.
        pass


class ElementsForm(CaseActionForm):
    premises_kind = SelectField("场所类别", validators=[DataRequired("请选择场所类别")])
    found = _Checkboxes("发现的判定要素（仅勾选不能立即改正的）")
    exclusions = _Checkboxes("适用的排除情形")
    suspected = BooleanField("即使未达到判定条件，也按疑似重大火灾隐患上报判定")
    note = TextAreaField("说明（可不填）", validators=[Optional(), Length(max=1000)])


class JudgeForm(CaseActionForm):
    decision = RadioField("集体判定结论", choices=options([
        ("major", "构成重大火灾隐患"), ("general", "不构成重大火灾隐患")]),
        validators=[InputRequired("请选择判定结论")])
    participants = TextAreaField("参加集体讨论的人员（每行一人，不少于三人）",
                                 validators=[DataRequired(REQUIRED), Length(max=2000)])
    reason = TextAreaField("判定理由", validators=[DataRequired(REQUIRED), Length(max=4000)])
    expert_review = BooleanField("已组织专家论证（报告期限延长 10 个工作日）")


class ApplicationForm(CaseActionForm):
    applied_on = DateField("单位申请复查的日期", validators=[InputRequired(DATE_INVALID)])
    note = TextAreaField("说明（可不填）", validators=[Optional(), Length(max=1000)])


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
