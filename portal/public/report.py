"""我要举报: the public report form, its confirmation and the receipt code."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from flask import (
    Response,
    abort,
    current_app,
    make_response,
    render_template,
    request,
    session,
)
from flask_wtf.csrf import generate_csrf

from portal.db import get_session
from portal.domain.casework.notifications import office_department
from portal.domain.clock import local_zone
from portal.domain.enums import Channel
from portal.domain.models import Township
from portal.domain.reporting import intake
from portal.domain.reporting.identity import group_receipt
from portal.errors import TLS_MESSAGE, refused_for_plain_http
from portal.extensions import csrf, limiter
from portal.identity import cipher, receipt_key
from portal.public import bp, townships
from portal.public.forms import ReportForm
from portal.web.caching import per_audit_version
from portal.web.photos import (
    PhotoStoreError,
    discard_files,
    kept_count,
    kept_photos,
    kept_token,
    read_photos,
    store_photos,
)

# Where earlier versions kept the receipt in the (signed, readable) session cookie.
RECEIPT_SESSION_KEY = "receipt"
SUBMISSION_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class Office:
    """A township's fire-safety office, as the confirmation names it."""

    name: str
    contact: str


# The form is the busiest page and a report the busiest write; villages, venue types,
# categories and a township's office change only by audited administrators' writes, so each
# process reads them once per newest audit row (``per_audit_version``).


def _vocabulary() -> intake.FormVocabulary:
    """The form's vocabularies. Only drawing the form reads them: a submitted choice is checked
    against the database itself (``intake.validate``)."""
    township_id = townships.current_id()
    return per_audit_version(("report form", township_id),
                             lambda: intake.form_vocabulary(get_session(), township_id))


def _office(township: Township) -> Office | None:
    def read() -> Office | None:
        office = office_department(get_session(), township)
        return None if office is None else Office(office.name, office.contact or "")
    return per_audit_version(("township office", township.id), read)


def _choices(form: ReportForm) -> tuple[intake.FormChoice, ...]:
    vocabulary = _vocabulary()
    form.village.choices = [("", "请选择"), *vocabulary.villages]
    form.venue_type.choices = [("", "不确定"), *vocabulary.venue_types]
    form.category.choices = [(c.id, c.name) for c in vocabulary.categories]
    return vocabulary.categories


def _parse_observed(raw: str | None) -> tuple[dt.datetime | None, bool]:
    if not raw or not raw.strip():
        return None, True
    try:
        local = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        return None, False
    if local.tzinfo is None:
        local = local.replace(tzinfo=local_zone())
    return local.astimezone(dt.UTC), True


def _parse_float(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw not in (None, "") else None
    except ValueError:
        return float("nan")
    return value


def _render(form: ReportForm, *, errors: dict[str, str] | None = None,
            kept=(), photo_note: str = "", status: int = 200):
    # The vocabularies are read only to draw the form: an accepted report never needs them.
    categories = _choices(form)
    return render_template(
        "portal/report.html",
        form=form,
        categories=categories,
        errors=errors or {},
        kept=list(kept),
        photo_note=photo_note,
        max_photos=current_app.config["MAX_PHOTOS"],
        description_max=intake.DESCRIPTION_MAX,
        description_min=intake.DESCRIPTION_MIN,
    ), status


# The empty form is drawn from the vocabularies alone, so each process draws it once per
# newest audit row, as it reads them (``per_audit_version``); only its two one-time values
# are new on every view: the CSRF token and the submission key, put in where these marks
# stand. (A page of its own for every view cost four times the request itself.)
_CSRF_SLOT = "CSRFSLOT000000000000000000000000000000000"
_SUBMISSION_SLOT = "SUBMISSIONSLOT0000000000"


def _empty_form_page() -> str:
    def draw() -> str:
        form = ReportForm()
        form.csrf_token.current_token = _CSRF_SLOT
        form.submission_key.data = _SUBMISSION_SLOT
        page, _status = _render(form)
        return page
    return per_audit_version(("report form page", townships.current_id()), draw)


@bp.get("/report")
def report():
    page = _empty_form_page()
    if page.count(_CSRF_SLOT) != 1 or page.count(_SUBMISSION_SLOT) != 1:
        raise RuntimeError("the report form lost its one-time fields")
    page = page.replace(_CSRF_SLOT, generate_csrf()).replace(
        _SUBMISSION_SLOT, secrets.token_urlsafe(16))
    return Response(page, mimetype="text/html")


def _report_limit() -> str:
    return current_app.config["REPORT_RATE_LIMIT"]


def _any_post_limit() -> str:
    # Every POST counts against this looser limit; only accepted tips count against the
    # other, so a resident correcting a form is never locked out.
    return current_app.config["REPORT_POST_RATE_LIMIT"]


@bp.post("/report")
@csrf.exempt  # checked by the form itself, so a stale token re-renders with the data kept
@limiter.limit(_any_post_limit)
@limiter.limit(_report_limit, deduct_when=lambda response: response.status_code == 200)
def submit_report():
    form = ReportForm()
    submission_key = (form.submission_key.data or "").strip()
    if not SUBMISSION_KEY_RE.match(submission_key):
        submission_key = secrets.token_urlsafe(16)
    form.submission_key.data = submission_key

    if form.website.data:
        abort(400)

    errors: dict[str, str] = {}
    if not form.validate_on_submit():
        errors["form"] = (TLS_MESSAGE if refused_for_plain_http()
                          else "页面已过期或校验失败，您填写的内容已保留，请检查后再次提交。")

    # Decode the photos before the first query: a writing request holds SQLite's write lock
    # from its first query to its commit, and decoding is the slow part of a report.
    batch = read_photos(request.files.getlist(form.photos.name),
                        already=kept_count(form.kept_photos.data, submission_key))
    if batch.errors:
        errors["photos"] = "；".join(batch.errors)

    db = get_session()
    existing = intake.find_submission(db, submission_key, receipt_key=receipt_key())
    if existing is not None:
        return _confirmation(intake.resubmitted(existing, submission_key,
                                                receipt_key=receipt_key()))
    kept = kept_photos(db, form.kept_photos.data, submission_key)

    observed_at, observed_ok = _parse_observed(form.observed_at.data)
    if not observed_ok:
        errors["observed_at"] = "请填写正确的发现时间"
    data = intake.TipInput(
        channel=Channel.WEB,
        village_id=form.village.data,
        category_id=form.category.data,
        venue_type_id=form.venue_type.data,
        unit_name=form.unit_name.data or "",
        address=form.address.data or "",
        description=form.description.data or "",
        observed_at=observed_at,
        lat=_parse_float(form.lat.data),
        lon=_parse_float(form.lon.data),
        reporter_name=form.reporter_name.data or "",
        reporter_phone=form.reporter_phone.data or "",
        wants_feedback=bool(form.wants_feedback.data),
        submission_key=submission_key,
        township_id=townships.current_id(),
    )
    try:
        intake.validate(db, data)
    except intake.IntakeError as exc:
        errors = {**exc.errors, **errors}

    if errors:
        photo_note = ""
        if batch.errors:
            photo_note = "照片未能接收，请重新选择符合要求的照片。"
        elif batch.processed:
            # The photos were fine: keep them so a slow connection need not send them again.
            try:
                staged = store_photos(db, batch)
            except PhotoStoreError as exc:
                # Still the resident's form to correct (422); the photos are theirs to resend.
                db.rollback()
                errors["photos"] = exc.message
            else:
                _commit_keeping_files(db)
                kept = kept + staged
                photo_note = "您刚才选择的照片已保留，无需重新选择。"
        form.kept_photos.data = kept_token(kept, submission_key) if kept else ""
        return _render(form, errors=errors, kept=kept, photo_note=photo_note, status=422)

    try:
        new_photos = store_photos(db, batch)
    except PhotoStoreError as exc:
        # Nothing was wrong with the form: the server cannot take photos now (503). Nothing
        # of the report is stored; the page keeps every typed field and any kept photos.
        db.rollback()
        form.kept_photos.data = kept_token(kept, submission_key) if kept else ""
        response, status = _render(form, errors={"photos": exc.message}, kept=kept, status=503)
        return response, status, {"Retry-After": "600"}
    data.photos = kept + new_photos
    try:
        # Found no tip for the key and validated above, in this transaction.
        result = intake.submit_tip(db, data, cipher=cipher(), receipt_key=receipt_key(),
                                   checked=True)
        db.flush()
    except Exception:
        discard_files(new_photos)  # nothing was stored: no row will ever name them
        raise
    _commit_keeping_files(db)
    return _confirmation(result)


def _commit_keeping_files(db) -> None:
    """Commit the photos' rows. If the commit fails, its outcome may be unknown (the
    connection dropped after the database had committed), so the files stay: a stored row
    needs them, and ``uploads gc`` removes them after its grace period if none does."""
    db.commit()


def _confirmation(result: intake.IntakeResult):
    """The confirmation is the POST's own answer: no later URL names the tip, nothing keeps
    the code but the resident (no cookie, no cache), and a resubmit of the same form shows it
    again within ``intake.RECEIPT_SHOWN_AGAIN_FOR``."""
    session.pop(RECEIPT_SESSION_KEY, None)
    code = result.receipt_code
    response = make_response(render_template(
        "portal/report_received.html",
        tip=result.tip,
        code=code,
        grouped=group_receipt(code) if code else None,
        again=result.duplicate_submission,
        again_hours=int(intake.RECEIPT_SHOWN_AGAIN_FOR.total_seconds() // 3600),
        # The office of the tip's township (its village's), whichever form it came through.
        office=_office(result.tip.village.township),
    ))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/report/received")
def report_received():
    # Confirmation links of earlier versions named the tip; they now lead nowhere.
    abort(404)
