"""The register of places (场所底数, issue 22): find, read, edit and merge units, import a
village's census, and see the coverage. The rules live in ``portal.domain.inspection.register``
and ``census``; another township's unit answers 404."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import BooleanField, FloatField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from admin import bp, imports
from admin.access import can, client_ip, require
from admin.acting import act, flash_back
from admin.forms import ActionForm, options
from admin.inspection_hub import link
from portal.db import get_session
from portal.domain.access.permissions import Permission, townships_of
from portal.domain.administration.townships import township_choices, village_choices
from portal.domain.inspection import census, coverage, merging, register
from portal.domain.models import Unit, VenueType
from portal.identity import cipher

REQUIRED = "此项必填"

link("admin.register", "场所底数", Permission.REGISTER_VIEW, "场所底数",
     "查找、修改与合并场所")
link("admin.register_import", "导入普查底数", Permission.REGISTER_MANAGE, "场所底数",
     "CSV 或 XLSX")
link("admin.register_coverage", "底数覆盖情况", Permission.REGISTER_VIEW, "场所底数",
     "各村、各类场所已掌握与已检查的数量")


class CoordinateField(FloatField):
    """A coordinate; a value that is not a number is refused in Chinese."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError("须为小数形式的数字，如 36.12345") from None


class UnitForm(FlaskForm):
    name = StringField("场所名称", validators=[DataRequired(REQUIRED), Length(max=100)])
    # The domain refuses a village of another township and a venue type switched off.
    village = SelectField("所在村", coerce=int, validate_choice=False)
    address = StringField("地址", validators=[Optional(), Length(max=200)])
    venue_type = SelectField("场所类型", coerce=int, validate_choice=False)
    responsible = StringField("负责人", validators=[Optional(), Length(max=100)])
    contact = StringField("联系电话", validators=[Optional(), Length(max=100)])
    lat = CoordinateField("纬度", validators=[Optional(),
                                       NumberRange(-90, 90, "纬度须在 -90 到 90 之间")])
    lon = CoordinateField("经度", validators=[Optional(),
                                       NumberRange(-180, 180, "经度须在 -180 到 180 之间")])
    risk_level = SelectField("风险等级", choices=options(register.RISK_LEVELS.items()))


class CensusForm(FlaskForm):
    file = FileField("普查文件（.csv 或 .xlsx）", render_kw={"accept": ".csv,.xlsx"})
    township = SelectField("导入到乡镇", coerce=int, validate_choice=False)
    dry_run = BooleanField("试导入（只检查并列出将发生的变化，不保存）", default=True)


def _venue_types() -> list[tuple[int, str]]:
    return [(id_, name) for id_, name in get_session().execute(
        select(VenueType.id, VenueType.name).where(VenueType.active)
        .order_by(VenueType.sort_order, VenueType.id))]


def _unit(unit_id: int) -> Unit:
    found = register.unit_in_scope(get_session(), current_user, unit_id)
    if found is None:
        abort(404)
    return found


@bp.route("/register", endpoint="register")
@require(Permission.REGISTER_VIEW)
def register_list():
    db = get_session()
    filters = register.Filters.from_args(request.args)
    found = register.units(db, current_user, filters, page=request.args.get("page"))
    return render_template("admin/register.html", page=found, filters=filters,
                           args=filters.args(), risk_levels=register.RISK_LEVELS,
                           villages=village_choices(db, townships_of(current_user)),
                           venue_types=_venue_types())


@bp.route("/register/<int:unit_id>")
@require(Permission.REGISTER_VIEW)
def register_unit(unit_id: int):
    db = get_session()
    unit = _unit(unit_id)
    if unit.merged_into_id is not None:
        kept = register.kept_unit(db, unit)
        flash(f"场所 {unit.id}（{unit.name}）已合并到本场所。", "info")
        return redirect(url_for("admin.register_unit", unit_id=kept.id))
    responsible = (register.responsible_of(unit, cipher())
                   if can(Permission.REGISTER_MANAGE) else None)
    return render_template("admin/register_unit.html", unit=unit, responsible=responsible,
                           history=register.history(db, unit),
                           merged=register.family(db, unit)[1:],
                           candidates=merging.possible_duplicates(db, unit),
                           risk_levels=register.RISK_LEVELS, form=ActionForm())


def _fill_choices(form: UnitForm, unit: Unit) -> None:
    db = get_session()
    form.village.choices = options(village_choices(db, {unit.village.township_id}))
    form.venue_type.choices = options([(0, "（未分类）"), *_venue_types()])


@bp.route("/register/<int:unit_id>/edit", methods=["GET", "POST"])
@require(Permission.REGISTER_MANAGE)
def register_edit(unit_id: int):
    unit = _unit(unit_id)
    if unit.merged_into_id is not None:
        return redirect(url_for("admin.register_edit",
                                unit_id=register.kept_unit(get_session(), unit).id))
    form = UnitForm()
    _fill_choices(form, unit)

    def page(error: str = "", status: int = 200) -> Any:
        return render_template("admin/register_edit.html", unit=_unit(unit_id), form=form,
                               error=error), status

    if request.method == "GET":
        responsible, contact = register.responsible_of(unit, cipher())
        form.process(data={"name": unit.name, "village": unit.village_id,
                           "address": unit.address, "venue_type": unit.venue_type_id or 0,
                           "responsible": responsible, "contact": contact, "lat": unit.lat,
                           "lon": unit.lon, "risk_level": unit.risk_level})
        return page()
    if not form.validate_on_submit():
        return page("请按提示修改后再保存", 400)
    change = register.UnitChange(
        name=form.name.data or "", village_id=form.village.data,
        address=form.address.data or "", venue_type_id=form.venue_type.data or None,
        responsible=form.responsible.data or "", contact=form.contact.data or "",
        lat=form.lat.data, lon=form.lon.data, risk_level=form.risk_level.data)
    return act(lambda: register.edit_unit(get_session(), unit, change, cipher=cipher(),
                                          actor=current_user, ip=client_ip()),
               done=lambda changed: "已保存。" if changed else "没有修改任何内容。",
               then=url_for("admin.register_unit", unit_id=unit_id), refused=page,
               refusals=(register.RegisterError,))


@bp.route("/register/<int:unit_id>/merge", methods=["POST"])
@require(Permission.REGISTER_MANAGE)
def register_merge(unit_id: int):
    """Merge this unit (the duplicate) into the unit ``into``: first a confirmation page
    showing both, then, with ``confirm``, the merge."""
    db = get_session()
    duplicate = _unit(unit_id)
    back = url_for("admin.register_unit", unit_id=unit_id)
    form = ActionForm()
    raw = (request.form.get("into") or "").strip()
    if not form.validate_on_submit() or not raw.isdigit():
        return flash_back("请填写要保留的场所编号。", back)
    kept = register.unit_in_scope(db, current_user, int(raw))
    if kept is None:
        return flash_back(f"本乡镇没有编号为 {raw} 的场所。", back)
    try:
        merging.check_merge(duplicate, kept)
    except register.RegisterError as exc:
        return flash_back(str(exc), back)
    if request.form.get("confirm") != "1":
        return render_template("admin/register_merge.html", duplicate=duplicate, kept=kept,
                               form=form, moving=merging.moving(db, duplicate))
    return act(lambda: merging.merge_units(db, duplicate, kept, actor=current_user,
                                            ip=client_ip()),
               done=lambda moved: (f"已合并：移交工单 {len(moved.cases)} 件、"
                                   f"举报 {len(moved.tips)} 条、检查任务 {len(moved.tasks)} 个。"),
               then=url_for("admin.register_unit", unit_id=kept.id),
               refused=lambda message, status: flash_back(message, back),
               refusals=(register.RegisterError,))


@bp.route("/register/import", methods=["GET", "POST"])
@require(Permission.REGISTER_MANAGE)
def register_import():
    form = CensusForm()
    townships = township_choices(get_session(), townships_of(current_user))
    form.township.choices = options(townships)

    def page(error: str = "", status: int = 200, report: census.CensusReport | None = None
             ) -> Any:
        return render_template("admin/register_import.html", form=form, error=error,
                               report=report, columns=census.COLUMNS,
                               aliases=census.ALIASES), status

    if request.method == "GET" or not form.validate_on_submit():
        return page() if request.method == "GET" else page("页面已过期，请重试", 400)
    allowed = {id_ for id_, _ in townships}
    township_id = form.township.data
    if township_id not in allowed:
        return page("请选择本乡镇", 400)
    upload = form.file.data
    data, why = imports.read_upload(upload, missing="请选择要导入的文件",
                                    too_large="文件超过 5 MB，请分村导入")
    if data is None:
        return page(why, 400)
    db = get_session()
    try:
        report = census.import_census(db, data, upload.filename, township_id=township_id,
                                      cipher=cipher(), actor=current_user,
                                      dry_run=bool(form.dry_run.data), ip=client_ip())
    except census.CensusError as exc:
        db.rollback()
        return page(str(exc), 400)
    return imports.conclude(report, page)


@bp.route("/register/coverage")
@require(Permission.REGISTER_VIEW)
def register_coverage():
    return render_template("admin/register_coverage.html",
                           coverage=coverage.coverage(get_session(), current_user))
