"""Importing an existing hazard ledger (历史隐患台账, issue 22): upload a township's ledger,
see what it would create (the dry run, on by default), import it. The rules live in
``portal.domain.inspection.history``."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField

from admin import bp, imports
from admin.access import client_ip, require
from admin.forms import options
from admin.inspection_hub import link
from portal.db import get_session
from portal.domain.access.permissions import Permission, townships_of
from portal.domain.administration.townships import township_choices
from portal.domain.casework.events import WorkflowError
from portal.domain.inspection import history
from portal.domain.models import Township
from portal.domain.vetting.moderation import ModerationError

# New rows imported per upload: each goes through every step of the workflow (measured at
# 0.2–0.5 s a row), so a request stays well inside the worker's timeout; the next upload of
# the same file goes on where this one stopped (the rows done are unchanged).
BATCH_ROWS = 30

link("admin.history_import", "导入历史隐患台账", Permission.HISTORY_IMPORT, "预警与历史台账",
     "如2023年重大火灾隐患清单，按原发现、整改、销号日期计入")


class HistoryImportForm(FlaskForm):
    file = FileField("台账文件（.csv 或 .xlsx）", render_kw={"accept": ".csv,.xlsx"})
    township = SelectField("台账所属乡镇", coerce=int, validate_choice=False)
    dry_run = BooleanField("试导入（只检查并列出将新建的记录，不保存）", default=True)


@bp.route("/history/import", methods=["GET", "POST"])
@require(Permission.HISTORY_IMPORT)
def history_import():
    form = HistoryImportForm()
    allowed = township_choices(get_session(), townships_of(current_user))
    form.township.choices = options(allowed)

    def page(error: str = "", status: int = 200,
             report: history.ImportReport | None = None) -> Any:
        return render_template("admin/history_import.html", form=form, error=error,
                               report=report, columns=history.COLUMNS,
                               required=history.REQUIRED, batch=BATCH_ROWS), status

    if request.method == "GET":
        return page()
    if not form.validate_on_submit():
        return page("页面已过期，请重试", 400)
    township_id = form.township.data
    if township_id not in {id_ for id_, _ in allowed}:
        return page("请选择台账所属乡镇（只能选择您所在的乡镇）", 400)
    township = get_session().get(Township, township_id)
    assert township is not None  # one of the active townships listed above
    upload = form.file.data
    data, why = imports.read_upload(upload, missing="请选择要导入的台账文件",
                                    too_large="文件超过 5 MB，请分批导入")
    if data is None:
        return page(why, 400)
    db = get_session()
    try:
        table = history.read_table(data, upload.filename)
        report = history.import_ledger(db, table, township=township, actor=current_user,
                                       filename=upload.filename,
                                       dry_run=bool(form.dry_run.data), ip=client_ip(),
                                       limit=BATCH_ROWS)
    except (history.LedgerFileError, WorkflowError, ModerationError) as exc:
        db.rollback()
        return page(str(exc), 400)
    return imports.conclude(report, page)
