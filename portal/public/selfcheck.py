"""单位自查: a unit's responsible person opens the self-check with the code of its notice
(typed in at ``/selfcheck`` or from the QR code, ``/selfcheck/<code>``), answers its
checklist and signs the commitment.

A wrong, used, revoked or expired code gets one and the same message (rate-limited like
``/track``), so that codes cannot be probed. A second submission from the browser that
submitted (a double click, a reload) is told the self-check was received: nothing is lost.
"""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template, request, session
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField, TextAreaField

from portal.db import get_session
from portal.domain.clock import local_today
from portal.domain.inspection import selfcheck
from portal.domain.inspection.checklists import Answer
from portal.domain.models.inspections import SelfCheckCode
from portal.extensions import csrf, limiter
from portal.identity import cipher, receipt_key
from portal.public import bp, townships
from portal.public.track import _expired, _track_limit

DONE_SESSION_KEY = "selfchecks_done"
DONE_KEPT = 5


class CodeForm(FlaskForm):
    class Meta:
        csrf_time_limit = None

    code = StringField("自查码")


class SelfCheckForm(FlaskForm):
    class Meta:
        csrf_time_limit = None

    code = HiddenField()
    problems = TextAreaField("问题说明和整改措施（可不填）")
    fix_by = StringField("整改期限")
    signer = StringField("单位负责人姓名")
    agreed = BooleanField("我已阅读并承诺")


def _private(response: Response) -> Response:
    # The code is in the page (and in the address from the QR code): never sent on as a
    # referrer, never kept by a cache.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _entry(form: CodeForm, error: str = "", status: int = 200) -> Response:
    return _private(make_response(render_template(
        "portal/selfcheck.html", form=form, error=error), status))


def _done(already: bool = False) -> Response:
    return _private(make_response(render_template(
        "portal/selfcheck_done.html", message=selfcheck.ALREADY_DONE if already else "")))


def _valid(code: str) -> SelfCheckCode | None:
    """The code's row if it may be used here (on a township's address: its units only)."""
    row = selfcheck.code_for(get_session(), code, key=receipt_key())
    here = townships.current()
    if row is None or (here is not None and row.unit.village.township_id != here.id):
        return None
    return row


def _submitted_here(code: str) -> bool:
    clear = selfcheck.normalize_code(code)
    return bool(clear) and selfcheck.code_hash(receipt_key(), clear or "") in session.get(
        DONE_SESSION_KEY, [])


def _refused(code: str, status: int = 404) -> Response:
    if _submitted_here(code):
        return _done(already=True)
    return _entry(CodeForm(formdata=None, code=""), selfcheck.CODE_REFUSED, status)


def _form_page(row: SelfCheckCode, form: SelfCheckForm, errors: dict[str, str] | None = None,
               answers: dict[str, str] | None = None, status: int = 200) -> Response:
    today = local_today()
    text = selfcheck.commitment()
    return _private(make_response(render_template(
        "portal/selfcheck_form.html", row=row, unit=row.unit, form=form, errors=errors or {},
        answers=answers or {}, checklist=selfcheck.checklist_of(row.unit),
        choices=list(Answer), commitment=text, today=today,
        latest_fix=today.fromordinal(today.toordinal() + text.max_fix_days),
        problem_value=Answer.PROBLEM.value), status))


def _open(code: str) -> Response:
    row = _valid(code)
    if row is None:
        return _refused(code)
    clear = selfcheck.normalize_code(code) or ""
    return _form_page(row, SelfCheckForm(formdata=None, code=clear))


@bp.get("/selfcheck")
def self_check() -> Response:
    return _entry(CodeForm())


@bp.post("/selfcheck")
@csrf.exempt  # checked by the form itself, with a Chinese message on the page
@limiter.limit(_track_limit)
def self_check_lookup() -> Response:
    form = CodeForm()
    if not form.validate_on_submit():
        return _entry(form, _expired("页面已过期，请重新输入自查码。"), 400)
    return _open(form.code.data or "")


@bp.get("/selfcheck/<code>")
@limiter.limit(_track_limit)
def self_check_code(code: str) -> Response:
    """From the notice's QR code."""
    return _open(code)


@bp.post("/selfcheck/submit")
@csrf.exempt  # checked by the form itself, with a Chinese message on the page
@limiter.limit(_track_limit)
def self_check_submit() -> Response:
    form = SelfCheckForm()
    code = form.code.data or ""
    row = _valid(code)
    if row is None:
        return _refused(code)
    checklist = selfcheck.checklist_of(row.unit)
    answers = {i.code: request.form.get(f"answer-{i.code}", "") for i in checklist.items}
    if not form.validate_on_submit():
        return _form_page(row, form, {"form": _expired("页面已过期，请核对后重新提交。")},
                          answers, 400)
    db = get_session()
    try:
        selfcheck.submit(
            db, code, answers=answers, problems=form.problems.data or "",
            fix_by=selfcheck.read_fix_by(form.fix_by.data or ""),
            signer_name=form.signer.data or "", agreed=bool(form.agreed.data),
            cipher=cipher(), key=receipt_key())
    except selfcheck.SelfCheckInvalid as exc:
        db.rollback()
        return _form_page(_valid(code) or row, form, exc.errors, answers, 422)
    except selfcheck.SelfCheckError:
        db.rollback()
        return _refused(code, 409)
    db.commit()
    _remember(selfcheck.code_hash(receipt_key(), selfcheck.normalize_code(code) or ""))
    return _done()


def _remember(digest: str) -> None:
    done: list[Any] = [d for d in session.get(DONE_SESSION_KEY, []) if d != digest]
    session[DONE_SESSION_KEY] = [*done, digest][-DONE_KEPT:]
