"""Villages, departments, categories, venue types and routing rules (with a preview)."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from admin import bp
from admin.access import require
from admin.acting import act
from admin.forms import (
    CategoryForm,
    CodeNameForm,
    DepartmentForm,
    RoutingPreviewForm,
    RoutingRuleForm,
    VillageForm,
    options,
)
from portal.db import get_session
from portal.domain.access.permissions import Permission
from portal.domain.administration import townships, vocabulary
from portal.domain.casework.routing import propose_routing
from portal.domain.enums import DepartmentKind
from portal.domain.models import Category, Department, RoutingRule, VenueType, Village

KINDS = "any(village,department,category,venue_type)"
TITLES = {"village": "村", "department": "部门", "category": "隐患类别", "venue_type": "场所类型"}
_FORMS: dict[str, type[CodeNameForm]] = {
    "village": VillageForm, "department": DepartmentForm,
    "category": CategoryForm, "venue_type": CodeNameForm,
}


def _form(kind: str, row: Any | None) -> CodeNameForm:
    form = _FORMS[kind](obj=row)
    if isinstance(form, DepartmentForm):
        form.kind.choices = options(DepartmentKind.choices())
        if row is not None and request.method == "GET":
            form.kind.data = row.kind.value
    if isinstance(form, VillageForm | DepartmentForm):
        places = [(t.id, t.name) for t in townships.active(get_session())]
        county = [(0, "县级部门")] if isinstance(form, DepartmentForm) else []
        form.township.choices = options(county + places)
        if row is not None and request.method == "GET":
            form.township.data = row.township_id or 0
    return form


def _values(kind: str, form: CodeNameForm) -> dict[str, Any]:
    values = {name: field.data for name, field in form._fields.items()
              if name not in {"csrf_token", "code", "township"}}
    if kind == "department":
        values["kind"] = DepartmentKind(values["kind"])
    if kind in ("village", "department"):
        values["township_id"] = form.township.data or None
    return values


def _order(model: Any) -> Any:
    return model.sort_order if hasattr(model, "sort_order") else model.name


def _save_coded(kind: str, row: Any | None, form: CodeNameForm) -> Any:
    return vocabulary.save_coded(get_session(), kind, row, code=form.code.data,
                                 actor=current_user, **_values(kind, form))


@bp.route(f"/vocabulary/<{KINDS}:kind>", methods=["GET", "POST"])
@require(Permission.VOCABULARY_MANAGE)
def vocabulary_list(kind: str):
    model = vocabulary.CODED_MODELS[kind]
    db = get_session()
    form = _form(kind, None)

    def page(error: str | None = None) -> Any:
        rows = db.scalars(select(model).order_by(model.active.desc(), _order(model))).all()
        return render_template("admin/vocabulary_list.html", kind=kind, title=TITLES[kind],
                               rows=rows, form=form, error=error, titles=TITLES)

    if not form.validate_on_submit():
        return page()
    return act(lambda: _save_coded(kind, None, form), done="已新增。",
               then=url_for("admin.vocabulary_list", kind=kind),
               refused=lambda message, _: page(message), code=302)


@bp.route(f"/vocabulary/<{KINDS}:kind>/<int:row_id>", methods=["GET", "POST"])
@require(Permission.VOCABULARY_MANAGE)
def vocabulary_edit(kind: str, row_id: int):
    db = get_session()
    row = db.get(vocabulary.CODED_MODELS[kind], row_id)
    if row is None:
        abort(404)
    form = _form(kind, row)

    def page(error: str | None = None) -> Any:
        return render_template("admin/vocabulary_edit.html", kind=kind, title=TITLES[kind],
                               row=row, form=form, error=error)

    if not form.validate_on_submit():
        return page()
    return act(lambda: _save_coded(kind, row, form), done="已保存。",
               then=url_for("admin.vocabulary_list", kind=kind),
               refused=lambda message, _: page(message), code=302)


def _rule_choices(form: RoutingRuleForm | RoutingPreviewForm, *, any_label: str) -> None:
    db = get_session()

    def opts(model: Any) -> list[tuple[int, str]]:
        return [(0, any_label)] + [(r.id, r.name) for r in db.scalars(
            select(model).where(model.active).order_by(_order(model)))]

    form.category.choices = options(opts(Category))
    form.venue_type.choices = options(opts(VenueType))
    form.village.choices = options(opts(Village))
    if isinstance(form, RoutingRuleForm):
        form.township.choices = options(
            [(0, "全县默认规则")] + [(t.id, f"{t.name}自有规则") for t in townships.active(db)])
        departments = opts(Department)[1:]
        form.lead.choices = options(departments)
        form.assist.choices = options(departments)


def _save_rule(form: RoutingRuleForm, rule: RoutingRule | None) -> RoutingRule:
    return vocabulary.save_rule(
        get_session(), rule, township_id=form.township.data or None,
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
        rules = db.scalars(select(RoutingRule).order_by(RoutingRule.active.desc(),
                                                        RoutingRule.id)).all()
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
    if rule is None:
        abort(404)
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
