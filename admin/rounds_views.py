"""Inspection rounds (排查), the inspectors' tasks on a phone, random checks (双随机) and the
approval of their results for the public site. The rules live in
``portal.domain.inspection.rounds``, ``draws`` and ``check_results``; another township's
round, task or draw answers 404."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from admin import bp
from admin.access import client_ip, require
from admin.acting import act, flash_back
from admin.forms import options
from admin.inspection_hub import link
from portal.db import get_session
from portal.domain.access.permissions import Permission, townships_of
from portal.domain.administration.townships import village_choices
from portal.domain.casework.events import WorkflowError
from portal.domain.clock import local_today
from portal.domain.inspection import check_results, draws, rounds
from portal.domain.inspection.checklists import Answer
from portal.domain.models import Attachment, Department, InspectionTask, Township, VenueType
from portal.web.files import send_attachment
from portal.web.photos import PhotoStoreError, discard_files, read_photos, store_photos

REQUIRED = "此项必填"
DATE_INVALID = "请选择有效的日期"

link("admin.my_tasks", "我的检查任务", Permission.TASKS_WORK, "我的工作",
     "在手机上逐项检查、拍照并登记结果")
link("admin.rounds", "排查", Permission.ROUNDS_MANAGE, "排查与抽查",
     "部署排查、查看各村各人的进度")
link("admin.draws", "双随机抽查", Permission.ROUNDS_MANAGE, "排查与抽查",
     "按权重抽取场所和检查人员，每次抽取均留痕")
link("admin.check_results", "抽查结果公开审核", Permission.CHECKS_PUBLISH, "排查与抽查",
     "逐条审核后在公众网站公开")


class RoundForm(FlaskForm):
    name = StringField("排查名称", validators=[DataRequired(REQUIRED), Length(max=100)])
    township = SelectField("乡镇", coerce=int, validate_choice=False)
    villages = SelectMultipleField("村（不选为全部）", coerce=int, validate_choice=False)
    venue_types = SelectMultipleField("场所类型（不选为全部）", coerce=int,
                                      validate_choice=False)
    departments = SelectMultipleField("参加部门", coerce=int, validate_choice=False)
    inspectors = SelectMultipleField("检查人员", coerce=int, validate_choice=False)
    starts_on = DateField("开始日期", validators=[DataRequired(DATE_INVALID)])
    ends_on = DateField("结束日期", validators=[DataRequired(DATE_INVALID)])


class DrawForm(FlaskForm):
    name = StringField("抽查名称（可不填）", validators=[Optional(), Length(max=100)])
    township = SelectField("乡镇", coerce=int, validate_choice=False)
    department = SelectField("实施抽查的部门", coerce=int, validate_choice=False)
    villages = SelectMultipleField("村（不选为全部）", coerce=int, validate_choice=False)
    venue_types = SelectMultipleField("场所类型（不选为全部）", coerce=int,
                                      validate_choice=False)
    unit_count = IntegerField("抽取场所数", validators=[
        DataRequired(REQUIRED), NumberRange(1, 10000, "请填写 1 以上的整数")])
    inspector_count = IntegerField("抽取检查人员数", validators=[
        DataRequired(REQUIRED), NumberRange(1, 1000, "请填写 1 以上的整数")])
    seed = StringField("随机种子（不填则自动生成并记录）", validators=[Optional(), Length(max=64)])
    ends_on = DateField("完成期限", validators=[Optional()])


class RedrawForm(FlaskForm):
    reason = TextAreaField("重新抽取的理由", validators=[DataRequired("请填写重新抽取的理由"),
                                                      Length(max=200)])


class TaskForm(FlaskForm):
    notes = TextAreaField("检查说明（可不填）", validators=[Optional(), Length(max=2000)])
    photos = MultipleFileField("现场照片（可多选，可直接拍照）",
                               render_kw={"accept": "image/*", "capture": "environment"})
    lat = HiddenField()
    lon = HiddenField()


class DecideForm(FlaskForm):
    decision = SelectField("审核", choices=options([("approve", "公开"), ("refuse", "不予公开")]))


# ---------------------------------------------------------------- choices


def _townships() -> list[Township]:
    places = townships_of(current_user)
    query = select(Township).where(Township.active.is_(True)).order_by(Township.sort_order,
                                                                       Township.id)
    if places is not None:
        query = query.where(Township.id.in_(sorted(places)))
    return list(get_session().scalars(query))


def _scope_choices(form: Any) -> list[Township]:
    db = get_session()
    towns = _townships()
    form.township.choices = options((t.id, t.name) for t in towns)
    form.villages.choices = options(village_choices(db, {t.id for t in towns}))
    form.venue_types.choices = options(
        (v.id, v.name) for v in db.scalars(select(VenueType).where(VenueType.active.is_(True))
                                           .order_by(VenueType.sort_order, VenueType.id)))
    return towns


def _chosen_township(form: Any, towns: list[Township]) -> Township | None:
    return next((t for t in towns if t.id == form.township.data), None)


# ---------------------------------------------------------------- rounds


@bp.route("/rounds", endpoint="rounds")
@require(Permission.ROUNDS_MANAGE)
def rounds_list():
    db = get_session()
    found = rounds.rounds_for(db, current_user, page=request.args.get("page"))
    return render_template("admin/rounds.html", page=found, figures=rounds.summaries(
        db, [r.id for r in found.items], local_today()))



@bp.route("/rounds/new", methods=["GET", "POST"])
@require(Permission.ROUNDS_MANAGE)
def round_new():
    db = get_session()
    form = RoundForm()
    towns = _scope_choices(form)
    people = {u.id: u for t in towns for u in rounds.inspector_choices(db, t)}
    form.inspectors.choices = options(
        (u.id, f"{u.display_name or u.username}（{u.role.label}"
               + (f"，{u.department.name}" if u.department else "") + "）")
        for u in people.values())
    form.departments.choices = options(
        (d.id, d.name) for d in {d.id: d for t in towns
                                 for d in draws.departments_for(db, t)}.values())

    def page(error: str | None = None, status: int = 200) -> Any:
        return render_template("admin/rounds_new.html", form=form, error=error), status

    if not form.validate_on_submit():
        return page("请检查填写的内容" if form.is_submitted() else None)
    township = _chosen_township(form, towns)
    if township is None:
        return page("请选择乡镇", 400)
    return act(lambda: rounds.plan_round(
        db, township=township, name=form.name.data or "", venue_type_ids=form.venue_types.data,
        village_ids=form.villages.data, department_ids=form.departments.data,
        inspector_ids=form.inspectors.data, starts_on=form.starts_on.data,
        ends_on=form.ends_on.data, actor=current_user, ip=client_ip()),
        done=lambda r: f"已部署排查，共 {len(r.tasks)} 项检查任务。",
        then=lambda r: url_for("admin.round_page", round_id=r.id),
        refused=lambda message, status: page(message, status))


@bp.route("/rounds/<int:round_id>")
@require(Permission.ROUNDS_MANAGE)
def round_page(round_id: int):
    found = rounds.visible_round(get_session(), current_user, round_id)
    if found is None:
        abort(404)
    today = local_today()
    return render_template("admin/rounds_page.html", round=found,
                           progress=rounds.progress(found, today), today=today,
                           is_overdue=rounds.is_overdue)


# ---------------------------------------------------------------- an inspector's tasks


@bp.route("/tasks")
@require(Permission.TASKS_WORK)
def my_tasks():
    return render_template("admin/tasks.html", tasks=rounds.tasks_of(get_session(), current_user),
                           today=local_today(), is_overdue=rounds.is_overdue)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@require(Permission.TASKS_WORK)
def task_page(task_id: int):
    db = get_session()
    task = rounds.visible_task(db, current_user, task_id)
    if task is None:
        abort(404)
    form = TaskForm()
    checklist = rounds.checklist_of(task)
    answers = {item.code: request.form.get(f"item-{item.code}", "") for item in checklist.items}

    def page(error: str | None = None, status: int = 200) -> Any:
        again = db.get(InspectionTask, task_id)
        assert again is not None
        return render_template(
            "admin/task_page.html", task=again, form=form, checklist=checklist,
            answers=answers, answer_choices=list(Answer), error=error,
            mine=again.inspector_id == current_user.id,
            photos=rounds.task_photos(db, again)), status

    if request.method == "GET":
        return page()
    if not form.validate_on_submit():
        return page("请检查填写的内容", 400)
    try:
        rounds.check_complete(task, current_user)
    except rounds.InspectionError as exc:
        return flash_back(str(exc), url_for("admin.task_page", task_id=task_id))
    try:
        rounds.read_answers(checklist, answers)
    except rounds.InspectionError as exc:
        return page(str(exc), 400)
    batch = read_photos(request.files.getlist(form.photos.name))
    if batch.errors:
        return page("；".join(batch.errors), 400)
    lat, lon = _float(form.lat.data), _float(form.lon.data)
    if lat is None or lon is None:
        lat = lon = None
    photos: list[Attachment] = []
    try:
        photos = store_photos(db, batch)
        done = rounds.complete_task(db, task, answers=answers, notes=form.notes.data or "",
                                    lat=lat, lon=lon, photos=photos, actor=current_user,
                                    ip=client_ip())
        db.commit()
    except PhotoStoreError as exc:
        db.rollback()
        return page(exc.message, 503)
    except WorkflowError as exc:  # the task's refusals, and routing's
        db.rollback()
        discard_files(photos)  # no row names them any more
        return page(str(exc), 400)
    flash(f"已登记检查结果：{done.result.label if done.result else ''}"
          + (f"，已立案（工单 {done.case_id}）并按分派规则派单。" if done.case_id else "。"),
          "success")
    return redirect(url_for("admin.my_tasks"), 303)


@bp.route("/tasks/<int:task_id>/photos")
@require(Permission.TASKS_WORK)
def task_photos(task_id: int):
    """A task's photos for the staff who may see the task (never public); ``?file=<id>``
    (with ``thumb=1`` for the small one) is one image."""
    db = get_session()
    task = rounds.visible_task(db, current_user, task_id)
    if task is None:
        abort(404)
    photos = rounds.task_photos(db, task)
    wanted = request.args.get("file", "")
    if not wanted:
        return render_template("admin/task_photos.html", task=task, photos=photos)
    row = next((p for p in photos if str(p.id) == wanted), None)
    if row is None:
        abort(404)
    return send_attachment(row, thumb=bool(request.args.get("thumb")))


# ---------------------------------------------------------------- random checks


@bp.route("/draws", endpoint="draws")
@require(Permission.ROUNDS_MANAGE)
def draws_list():
    department = request.args.get("department", "")
    db = get_session()
    found = draws.draws_for(db, current_user,
                            int(department) if department.isdigit() else None)
    departments = {d.id: d for t in _townships() for d in draws.departments_for(db, t)}
    return render_template("admin/draws.html", draws=found, departments=departments.values(),
                           department=department)



@bp.route("/draws/new", methods=["GET", "POST"])
@require(Permission.ROUNDS_MANAGE)
def draw_new():
    db = get_session()
    form = DrawForm()
    towns = _scope_choices(form)
    form.department.choices = options(
        (d.id, d.name) for d in {d.id: d for t in towns
                                 for d in draws.departments_for(db, t)}.values())

    def page(error: str | None = None, status: int = 200) -> Any:
        return render_template("admin/draws_new.html", form=form, error=error,
                               weights=draws.weights()), status

    if not form.validate_on_submit():
        return page("请检查填写的内容" if form.is_submitted() else None)
    township = _chosen_township(form, towns)
    department = db.get(Department, form.department.data or 0)
    if township is None or department is None:
        return page("请选择乡镇和部门", 400)
    return act(lambda: draws.draw(
        db, township=township, department=department, unit_count=form.unit_count.data or 0,
        inspector_count=form.inspector_count.data or 0,
        scope={"venue_type_ids": form.venue_types.data, "village_ids": form.villages.data},
        seed=form.seed.data or None, actor=current_user, ip=client_ip(),
        ends_on=form.ends_on.data, name=form.name.data or ""),
        done=lambda d: f"已抽取并记录（随机种子 {d.seed}），已生成抽查任务。",
        then=lambda d: url_for("admin.draw_page", draw_id=d.id),
        refused=lambda message, status: page(message, status))


@bp.route("/draws/<int:draw_id>")
@require(Permission.ROUNDS_MANAGE)
def draw_page(draw_id: int):
    db = get_session()
    found = draws.visible_draw(db, current_user, draw_id)
    if found is None:
        abort(404)
    units = draws.units_by_id(db, found.unit_ids)
    return render_template(
        "admin/draws_page.html", draw=found, units=[units[i] for i in found.unit_ids
                                                    if i in units],
        reproduced=draws.reproduce(found) if found.scope.get("candidates") else None,
        later=draws.superseded_by(db, found), form=RedrawForm())


@bp.route("/draws/<int:draw_id>/redraw", methods=["POST"])
@require(Permission.ROUNDS_MANAGE)
def draw_redraw(draw_id: int):
    db = get_session()
    found = draws.visible_draw(db, current_user, draw_id)
    if found is None:
        abort(404)
    form = RedrawForm()
    back = url_for("admin.draw_page", draw_id=draw_id)
    if not form.validate_on_submit():
        return flash_back("；".join(e for errs in form.errors.values() for e in errs), back)
    return act(lambda: draws.redraw(db, found, reason=form.reason.data or "",
                                    actor=current_user, ip=client_ip()),
               done=lambda d: f"已重新抽取（新的抽取编号 {d.id}），原抽取仍保留在记录中。",
               then=lambda d: url_for("admin.draw_page", draw_id=d.id),
               refused=lambda message, _: flash_back(message, back))


# ---------------------------------------------------------------- publication


@bp.route("/check-results", endpoint="check_results")
@require(Permission.CHECKS_PUBLISH)
def check_results_list():
    return render_template("admin/check_results.html",
                           tasks=check_results.pending(get_session(), current_user),
                           form=DecideForm(), words=check_results.PUBLIC_WORDS)



@bp.route("/tasks/<int:task_id>/publication", methods=["POST"])
@require(Permission.CHECKS_PUBLISH)
def check_result_decide(task_id: int):
    db = get_session()
    task = db.get(InspectionTask, task_id)
    places = townships_of(current_user)
    if task is None or (places is not None and task.round.township_id not in places):
        abort(404)
    form = DecideForm()
    back = url_for("admin.check_results")
    if not form.validate_on_submit():
        return flash_back("请选择公开或不予公开", back)
    approve = form.decision.data == "approve"
    return act(lambda: check_results.decide(db, task, approve=approve, actor=current_user,
                                            ip=client_ip()),
               done="已公开。" if approve else "已决定不予公开。", then=back,
               refused=lambda message, _: flash_back(message, back))
