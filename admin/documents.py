"""A case's documents (责令限期改正通知书, 复查意见书, …): issued from the case page, printed
on A4. Which may be issued now, and the numbering, are ``portal.domain.casework.documents``."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional

from admin import bp
from admin.access import require
from admin.acting import act, flash_back
from admin.desk_case import _case
from portal.db import get_session
from portal.domain.access.permissions import Permission
from portal.domain.casework import documents
from portal.domain.models import CaseDocument


class DocumentForm(FlaskForm):
    # Only where the department numbers its documents itself (the domain says when).
    number = StringField("文号（本部门自行编号）",
                         validators=[Optional(), Length(max=documents.NUMBER_MAX)])
    findings = TextAreaField("检查或复查情况（不填则使用核查、整改记录）",
                             validators=[Optional(), Length(max=documents.FINDINGS_MAX)])


@bp.post("/desk/cases/<int:case_id>/documents/<kind>")
@require(Permission.CASES_WORK)
def case_document_issue(case_id: int, kind: str):
    case = _case(case_id)
    if kind not in documents.kinds():
        abort(404)
    back = url_for("admin.desk_case", case_id=case_id) + "#documents"
    form = DocumentForm()
    if not form.validate():
        return flash_back("；".join(e for errors in form.errors.values() for e in errors)
                          or "请按提示填写后再提交", back)

    def issued(document: CaseDocument) -> str:
        return f"已制发《{documents.kind_of(kind).title}》{document.number}。"

    return act(lambda: documents.issue(get_session(), case, kind, actor=current_user,
                                       number=form.number.data or "",
                                       findings=form.findings.data or ""),
               done=issued,
               then=lambda document: url_for("admin.case_document", case_id=case_id,
                                             document_id=document.id),
               refused=lambda message, _status: flash_back(message, back))


@bp.get("/desk/cases/<int:case_id>/documents/<int:document_id>")
@require(Permission.CASES_READ)
def case_document(case_id: int, document_id: int) -> Any:
    document = documents.document_of(_case(case_id), document_id)
    if document is None:
        abort(404)
    return render_template("admin/documents/print.html", document=document,
                           content=document.content)
