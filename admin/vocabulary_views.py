"""Villages, departments, categories, venue types and routing rules (with a preview)."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from admin import bp
from admin.access import require
from admin.acting import act, flash_back
from admin.forms import (
    CategoryForm,
    CodeNameForm,
    DepartmentForm,
    RoutingPreviewForm,
    RoutingRuleForm,
    TownshipForm,
    VillageForm,
    options,
)
from portal.db import get_session
from portal.domain.access.permissions import (
    Permission,
    administered_townships,
    is_county_staff,
    manages,
)
from portal.domain.administration import townships, vocabulary
from portal.domain.casework import limits
from portal.domain.casework.routing import propose_routing
from portal.domain.enums import DepartmentKind
from portal.domain.models import Category, RoutingRule, Township, VenueType, Village

KINDS = "any(township,village,department,category,venue_type)"
TITLES = {"township": "乡镇", "village": "村", "department": "部门", "category": "隐患类别",
          "venue_type": "场所类型"}
_FORMS: dict[str, type[CodeNameForm]] = {
    "township": TownshipForm, "village": VillageForm, "department": DepartmentForm,
    "category": CategoryForm, "venue_type": CodeNameForm,
}


def _places() -> list[tuple[int, str]]:
    """The townships the admin may put a row in: a township admin, its own."""
    mine = administered_townships(current_user)
    return [(t.id, t.name) for t in townships.active(get_session())
            if mine is None or t.id in mine]


def _form(kind: str, row: Any | None) -> CodeNameForm:
    form = _FORMS[kind](obj=row)
    shown = row if request.method == "GET" else None
    if isinstance(form, TownshipForm):
        codes = options([("", "（未指定：用县级设置）")] + [
            (d.code, d.name) for d in townships.duty_candidates(get_session(), row)])
        form.office_department.choices = codes
        form.penalty_department.choices = list(codes)
    if isinstance(form, DepartmentForm):
        form.kind.choices = options(DepartmentKind.choices())
        if shown is not None:
            form.kind.data = shown.kind.value
        if is_county_staff(current_user):
            form.serves.choices = options(
                (t.id, t.name) for t in townships.active(get_session()))
            if shown is not None:
                form.serves.data = [t.id for t in shown.serves]
        else:
            del form.serves
    if isinstance(form, VillageForm | DepartmentForm):
        county = [(0, "县级部门")] if isinstance(form, DepartmentForm) else []
        form.township.choices = options(
            (county if is_county_staff(current_user) else []) + _places())
        if shown is not None:
            form.township.data = shown.township_id or 0
    return form


def _values(kind: str, form: CodeNameForm) -> dict[str, Any]:
    values = {name: field.data for name, field in form._fields.items()
              if name not in {"csrf_token", "code", "township", "serves"}}
    if kind == "department":
        values["kind"] = DepartmentKind(values["kind"])
    if kind in ("village", "department"):
        values["township_id"] = form.township.data or None
    if kind == "department" and values["township_id"] is None and "serves" in form:
        # None of them ticked: the county department serves every township.
        values["serve_ids"] = form.serves.data or [t.id for t in townships.active(get_session())]
    if kind == "township":
        values["sort_order"] = values.get("sort_order") or 0
    return values


def _save_coded(kind: str, row: Any | None, form: CodeNameForm) -> Any:
    values = _values(kind, form)
    if not vocabulary.may_manage(current_user, kind, None, values.get("township_id")):
        abort(403)  # a township admin moving a row to the county or another township
    return vocabulary.save_coded(get_session(), kind, row, code=form.code.data,
                                 actor=current_user, **values)


@bp.route(f"/vocabulary/<{KINDS}:kind>", methods=["GET", "POST"])
@require(Permission.VOCABULARY_MANAGE)
def vocabulary_list(kind: str):
    db = get_session()
    form = _form(kind, None)
    # A township admin reads the county's lists (townships, categories, venue types).
    creates = vocabulary.may_manage(current_user, kind, None, current_user.township_id)

    def page(error: str | None = None) -> Any:
        rows = [(r, vocabulary.may_manage(current_user, kind, r))
                for r in vocabulary.listed(db, kind, current_user)]
        # A category's §18 check limit as the cases count it (its own, or the legal maximum).
        check_limits = ({r.id: limits.check_limit(r).label for r, _mine in rows}
                        if kind == "category" else {})
        return render_template("admin/vocabulary_list.html", kind=kind, title=TITLES[kind],
                               rows=rows, form=form if creates else None, error=error,
                               titles=TITLES, township=_own_township(kind),
                               off=_switched_off(kind), check_limits=check_limits)

    if request.method == "POST" and not creates:
        abort(403)
    if not form.validate_on_submit():
        return page()
    return act(lambda: _save_coded(kind, None, form), done="已新增。",
               then=url_for("admin.vocabulary_list", kind=kind),
               refused=lambda message, _: page(message), code=302)


def _own_township(kind: str) -> Any | None:
    """The township whose use of a shared list a township admin sets (None: not this list, or
    the county's admin, who keeps the list itself)."""
    mine = administered_townships(current_user)
    if kind not in vocabulary.SWITCHABLE or mine is None or len(mine) != 1:
        return None
    return get_session().get(Township, next(iter(mine)))


def _switched_off(kind: str) -> set[int]:
    township = _own_township(kind)
    return set() if township is None else vocabulary.switched_off(get_session(), kind,
                                                                   township.id)


@bp.post("/vocabulary/<any(category,venue_type):kind>/<int:row_id>/township")
@require(Permission.VOCABULARY_MANAGE)
def vocabulary_switch(kind: str, row_id: int):
    """A township admin switches a county entry off (or on again) for its township."""
    township = _own_township(kind)
    entry = vocabulary.shown_row(get_session(), kind, row_id, current_user)
    if township is None or entry is None:
        abort(404)
    on = request.form.get("use") == "on"
    back = url_for("admin.vocabulary_list", kind=kind)
    return act(lambda: vocabulary.switch(get_session(), kind, entry, township, on=on,
                                         actor=current_user),
               done=f"{township.name}已{'恢复使用' if on else '停用'}“{entry.name}”。",
               then=back, refused=lambda message, _: flash_back(message, back))


@bp.route(f"/vocabulary/<{KINDS}:kind>/<int:row_id>", methods=["GET", "POST"])
@require(Permission.VOCABULARY_MANAGE)
def vocabulary_edit(kind: str, row_id: int):
    row = vocabulary.shown_row(get_session(), kind, row_id, current_user)
    if row is None:
        abort(404)  # another township's row: its existence does not leak
    if not vocabulary.may_manage(current_user, kind, row):
        abort(403)
    form = _form(kind, row)

    def page(error: str | None = None) -> Any:
        return render_template("admin/vocabulary_edit.html", kind=kind, title=TITLES[kind],
                               row=row, form=form, error=error)

    if not form.validate_on_submit():
        return page()
    return act(lambda: _save_coded(kind, row, form), done="已保存。",
               then=url_for("admin.vocabulary_list", kind=kind),
               refused=lambda message, _: page(message), code=302)


def _order(model: Any) -> Any:
    return model.sort_order if hasattr(model, "sort_order") else model.name


def _rule_choices(form: RoutingRuleForm | RoutingPreviewForm, *, any_label: str) -> None:
    """Choices of the admin's own reach: a township admin names its villages and the
    departments serving its township, and writes only its own rules (自有规则)."""
    db = get_session()
    mine = administered_townships(current_user)

    def opts(model: Any) -> list[tuple[int, str]]:
        rows = db.scalars(select(model).where(model.active).order_by(_order(model)))
        return [(0, any_label)] + [(r.id, r.name) for r in rows
                                   if model is not Village or mine is None
                                   or r.township_id in mine]

    form.category.choices = options(opts(Category))
    form.venue_type.choices = options(opts(VenueType))
    form.village.choices = options(opts(Village))
    if isinstance(form, RoutingRuleForm):
        county = [(0, "全县默认规则")] if mine is None else []
        form.township.choices = options(county + [(t, f"{name}自有规则") for t, name in _places()])
        if mine is not None and not form.township.data:
            (form.township.data,) = mine  # a township admin's rules are its own
        departments = [(d.id, d.name) for d in
                       vocabulary.serving_departments(db, current_user)]
        form.lead.choices = options(departments)
        form.assist.choices = options(departments)


def _save_rule(form: RoutingRuleForm, rule: RoutingRule | None) -> RoutingRule:
    township_id = form.township.data or None
    if not manages(current_user, township_id):
        abort(403)  # a township admin writing a county default
    return vocabulary.save_rule(
        get_session(), rule, township_id=township_id,
        category_id=form.category.data or None, venue_type_id=form.venue_type.data or None,
        village_id=form.village.data or None, lead_department_id=form.lead.data,
        assist_ids=form.assist.data or [], priority=form.priority.data or 0,
        active=form.active.data, note=form.note.data or "", actor=current_user,
    )


def _preview(form: RoutingPreviewForm) -> dict[str, Any] | None:
    """What the routing table would do with such a case, from the same code that routes."""
    db = get_session()
    category, village = db.get(Category, form.category.data), db.get(Village, form.village.data)
    if category is None or village is None:
        return None
    venue_type = db.get(VenueType, form.venue_type.data) if form.venue_type.data else None
    return {"category": category, "venue_type": venue_type, "village": village,
            "proposal": propose_routing(db, category, venue_type, village)}


@bp.route("/routing", methods=["GET", "POST"])
@require(Permission.VOCABULARY_MANAGE)
def routing_rules():
    db = get_session()
    form = RoutingRuleForm()
    _rule_choices(form, any_label="（任意）")

    def page(error: str | None = None) -> Any:
        preview = RoutingPreviewForm(request.args)
        _rule_choices(preview, any_label="（未指定）")
        result = None
        if request.args.get("category") and request.args.get("village") and preview.validate():
            result = _preview(preview)
        rules = [(r, manages(current_user, r.township_id))
                 for r in vocabulary.listed_rules(db, current_user)]
        return render_template("admin/routing.html", rules=rules, form=form, error=error,
                               preview=preview, result=result)

    if not form.validate_on_submit():
        return page()
    return act(lambda: _save_rule(form, None), done="已新增分派规则。",
               then=url_for("admin.routing_rules"),
               refused=lambda message, _: page(message), code=302)


@bp.route("/routing/<int:rule_id>", methods=["GET", "POST"])
@require(Permission.VOCABULARY_MANAGE)
def routing_rule_edit(rule_id: int):
    db = get_session()
    rule = db.get(RoutingRule, rule_id)
    if rule is None or rule not in vocabulary.listed_rules(db, current_user):
        abort(404)  # another township's rule
    if not manages(current_user, rule.township_id):
        abort(403)  # a county default, read-only for a township admin
    form = RoutingRuleForm(
        township=rule.township_id or 0, category=rule.category_id or 0,
        venue_type=rule.venue_type_id or 0,
        village=rule.village_id or 0, lead=rule.lead_department_id,
        assist=[d.id for d in rule.assisting_departments], priority=rule.priority,
        active=rule.active, note=rule.note,
    ) if request.method == "GET" else RoutingRuleForm()
    _rule_choices(form, any_label="（任意）")

    def page(error: str | None = None) -> Any:
        return render_template("admin/routing_edit.html", rule=rule, form=form, error=error)

    if not form.validate_on_submit():
        return page()
    return act(lambda: _save_rule(form, rule), done="已保存。",
               then=url_for("admin.routing_rules"),
               refused=lambda message, _: page(message), code=302)
