"""The steps issue 17's browser walk found broken or confusing, as the test client sees them:
the audit log in words, the back office's own error pages, the missing-schedule warning for
those who can act on it, the ledger's XLSX dates, the feeds in <head>. (Layout is checked in
tests/browser/test_walk_pages.py.)"""

from __future__ import annotations

import ast
import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from portal.config import ROOT
from portal.domain import clock
from portal.domain.access import audit, audit_labels
from portal.domain.access.permissions import Permission, has_permission
from portal.domain.administration import vocabulary
from portal.domain.casework import workflow
from portal.domain.enums import CaseEventKind, CaseStatus, Role
from portal.domain.supervision import exports, ledger
from tests import factories
from tests.domain.supervision_helpers import seed_ledger

# ---------------------------------------------------------------- every audited action and field

AUDIT_KEYWORDS = {"before", "after", "audit_before", "audit_after"}
# The calls whose keywords end up in an audit row's before/after.
AUDITING_CALLS = {"record", "_append", "log_event", "transition"}
# The action codes built at run time, as written in the source → the codes they make. A new
# f-string action fails the walk until it is listed here (and labelled).
DYNAMIC_ACTIONS: dict[str, set[str]] = {
    "f'case.{kind.value}'": {f"case.{k.value}" for k in CaseEventKind},
    "f\"{kind}.{('create' if before is None else 'update')}\"": {
        f"{kind}.{verb}" for kind in vocabulary.CODED_MODELS for verb in ("create", "update")},
    "f\"routing_rule.{('create' if before is None else 'update')}\"": {
        "routing_rule.create", "routing_rule.update"},
    "f\"{kind}.township_{('on' if on else 'off')}\"": {
        f"{kind}.township_{state}" for kind in vocabulary.SWITCHABLE for state in ("on", "off")},
}


def _sources() -> Iterator[Path]:
    for package in ("portal", "admin"):
        yield from sorted((ROOT / package).rglob("*.py"))


def _is_audit_record(call: ast.Call) -> bool:
    func = call.func
    return (isinstance(func, ast.Attribute) and func.attr == "record"
            and isinstance(func.value, ast.Name) and func.value.id == "audit")


class _Walk:
    """The actions and field names every audit row the code writes can hold."""

    def __init__(self) -> None:
        self.actions: set[str] = {audit.KEYED_ACTION}
        self.unknown: list[str] = []
        self.fields: set[str] = set()
        for path in _sources():
            self._module(ast.parse(path.read_text(), str(path)), path)

    def _module(self, tree: ast.Module, path: Path) -> None:
        returns: dict[str, list[ast.expr]] = {}
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef):
                for node in ast.walk(fn):
                    if isinstance(node, ast.Return) and node.value is not None:
                        returns.setdefault(fn.name, []).append(node.value)
        audited = False
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef):
                continue
            names: dict[str, list[ast.expr]] = {}
            for node in ast.walk(fn):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            names.setdefault(target.id, []).append(node.value)
                        elif (isinstance(target, ast.Subscript)
                              and isinstance(target.value, ast.Name)
                              and target.value.id == "after"
                              and isinstance(target.slice, ast.Constant)):
                            self.fields.add(target.slice.value)
            for call in ast.walk(fn):
                if not isinstance(call, ast.Call):
                    continue
                name = getattr(call.func, "attr", None) or getattr(call.func, "id", "")
                if _is_audit_record(call):
                    audited = True
                    self._action(call.args[1], path)
                if name in AUDITING_CALLS:
                    for keyword in call.keywords:
                        if keyword.arg in AUDIT_KEYWORDS:
                            self._keys(keyword.value, names, returns)
        if audited:
            # Snapshots of a row (before/after an edit) returned by the module's helpers.
            for name, values in returns.items():
                if "snapshot" in name:
                    for value in values:
                        self._keys(value, {}, returns)

    def _action(self, node: ast.expr, path: Path) -> None:
        if isinstance(node, ast.Constant):
            self.actions.add(node.value)
        elif ast.unparse(node) in DYNAMIC_ACTIONS:
            self.actions |= DYNAMIC_ACTIONS[ast.unparse(node)]
        else:
            self.unknown.append(f"{path.relative_to(ROOT)}: {ast.unparse(node)}")

    def _keys(self, node: ast.expr, names: dict[str, list[ast.expr]],
              returns: dict[str, list[ast.expr]], depth: int = 0) -> None:
        if depth > 4:
            return
        again = lambda n: self._keys(n, names, returns, depth + 1)  # noqa: E731
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if key is None:
                    again(value)
                elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                    self.fields.add(key.value)
                    if isinstance(value, ast.Dict):
                        again(value)
        elif isinstance(node, ast.Name):
            for value in names.get(node.id, []):
                again(value)
        elif isinstance(node, ast.IfExp):
            again(node.body)
            again(node.orelse)
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", "")
            for value in returns.get(name, []):
                again(value)
            if name == "jsonable":
                for arg in node.args:
                    again(arg)


@pytest.fixture(scope="module")
def walk() -> _Walk:
    return _Walk()


def test_the_walk_finds_the_actions_it_should(walk: _Walk) -> None:
    # A sanity check of the walk itself: these are recorded in four different ways.
    assert {"tip.reveal_identity", "user.create", "case.closed", "village.update",
            "routing_rule.create", "audit.keyed"} <= walk.actions
    assert {"had_name", "status", "rectify_by", "display_name", "unkeyed_head"} <= walk.fields
    assert walk.unknown == [], "new action codes built at run time: list them in DYNAMIC_ACTIONS"


def test_every_recorded_action_has_a_chinese_label(walk: _Walk) -> None:
    missing = sorted(a for a in walk.actions if a not in audit_labels.ACTION_LABELS)
    assert missing == [], f"actions with no label in audit_labels.ACTION_LABELS: {missing}"
    for label in audit_labels.ACTION_LABELS.values():
        assert re.search(r"[\u4e00-\u9fff]", label), label


def test_every_recorded_field_has_a_chinese_label(walk: _Walk) -> None:
    fields = walk.fields | {"code"} | set(workflow.STAMPABLE)
    fields |= {f for names in vocabulary._FIELDS.values() for f in names}
    fields |= {m.__tablename__ for m in vocabulary.CODED_MODELS.values()} | {"routing_rules"}
    missing = sorted(f for f in fields if f not in audit_labels.FIELD_LABELS)
    assert missing == [], f"fields with no label in audit_labels.FIELD_LABELS: {missing}"


def test_the_audit_page_reads_in_chinese_with_the_raw_row_behind_a_toggle(
    client: FlaskClient, db_session: Session, as_role, staff
) -> None:
    tip = factories.make_tip(db_session)
    audit.record(db_session, "tip.reveal_identity", "tip", tip.id,
                 actor=staff["moderator"], after={"had_name": True, "had_phone": False})
    db_session.commit()
    as_role("admin")
    html = client.get("/admin/audit").get_data(as_text=True)
    table = html[html.index("<tbody>"):html.index("</tbody>")]
    (row,) = [r for r in table.split("<tr>") if "查看举报人身份" in r]
    assert "留有姓名" in row and "留有电话" in row
    visible = re.sub(r"<details.*?</details>", "", table, flags=re.S)
    assert "tip.reveal_identity" not in visible and "had_name" not in visible
    raw = re.search(r"<details.*?</details>", row, flags=re.S)
    assert raw and "had_name" in raw.group(0) and "tip.reveal_identity" in raw.group(0)


def test_the_audit_filter_still_narrows_by_action(
    client: FlaskClient, db_session: Session, as_role, staff
) -> None:
    audit.record(db_session, "api_key.issue", "api_key", 1, actor=staff["admin"],
                 after={"partner": "热线", "prefix": "abcd"})
    db_session.commit()
    as_role("admin")
    html = client.get("/admin/audit?action=api_key.issue").get_data(as_text=True)
    assert "签发接口密钥" in html and "合作方" in html and "登录后台" not in html


# ---------------------------------------------------------------- the back office's error pages


def test_a_refusal_inside_the_back_office_keeps_the_staff_menu(
    client: FlaskClient, as_role
) -> None:
    as_role("officer")
    response = client.get("/admin/users")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert 'aria-label="后台导航"' in html and 'aria-label="主导航"' not in html
    assert 'href="/admin/"' in html and "返回后台首页" in html
    assert "admin.css" in html


def test_a_missing_back_office_page_keeps_the_staff_menu(client: FlaskClient, as_role) -> None:
    as_role("supervisor")
    response = client.get("/admin/cases/999999")
    assert response.status_code == 404
    assert 'aria-label="后台导航"' in response.get_data(as_text=True)


def test_public_error_pages_keep_the_public_menu(client: FlaskClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert 'aria-label="主导航"' in html and "返回首页" in html and "后台导航" not in html


# ---------------------------------------------------------------- the missing-schedule warning


def test_importing_the_calendar_is_a_permission_of_admins_alone() -> None:
    assert [r for r in Role if has_permission(r, Permission.CALENDAR_IMPORT)] == [Role.ADMIN]


@pytest.fixture
def year_2031(monkeypatch: pytest.MonkeyPatch) -> None:
    """A year no schedule source knows: its and the next year's schedules are missing."""
    monkeypatch.setattr(clock, "local_today", lambda *a, **k: dt.date(2031, 6, 1))


def test_the_warning_shows_to_admins_with_a_link_to_the_import(
    client: FlaskClient, as_role, year_2031
) -> None:
    as_role("admin")
    html = client.get("/admin/users").get_data(as_text=True)
    assert "calendar-warning" in html and "2031 年的节假日调休安排尚未录入" in html
    assert 'href="/admin/calendar"' in html


@pytest.mark.parametrize("role, url", [("supervisor", "/admin/closures"),
                                       ("supervisor", "/admin/supervision"),
                                       ("moderator", "/admin/queue")])
def test_others_are_not_shown_the_warning_on_every_page(
    client: FlaskClient, as_role, year_2031, role: str, url: str
) -> None:
    as_role(role)
    html = client.get(url).get_data(as_text=True)
    assert "calendar-warning" not in html and "尚未录入" not in html


def test_a_deadline_counted_in_a_missing_year_carries_a_quiet_note(
    client: FlaskClient, db_session: Session, as_role, year_2031
) -> None:
    case = factories.make_case(db_session, status=CaseStatus.ROUTED,
                               routed_at=dt.datetime(2031, 6, 1, 2, tzinfo=dt.UTC),
                               check_by=dt.datetime(2031, 6, 4, 15, 59, tzinfo=dt.UTC))
    db_session.commit()
    as_role("supervisor")
    html = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "calendar-note" in html and "2031 年调休安排尚未录入" in html
    assert "calendar-warning" not in html


# ---------------------------------------------------------------- the ledger


def test_the_xlsx_export_writes_dates_as_date_cells(
    client: FlaskClient, db_session: Session, as_role
) -> None:
    seed_ledger(db_session)
    db_session.commit()
    as_role("supervisor")
    response = client.get("/admin/ledger.xlsx?sort=created&dir=asc")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data()))["隐患台账"]
    headers = [c.value for c in sheet[1]]
    created = headers.index("立案时间") + 1
    rectify = headers.index("整改期限") + 1
    created_cells = [sheet.cell(row, created) for row in range(2, sheet.max_row + 1)]
    assert created_cells and all(isinstance(c.value, dt.datetime) for c in created_cells)
    assert all(c.number_format == exports.DATETIME_FORMAT for c in created_cells)
    rectify_cells = [sheet.cell(row, rectify) for row in range(2, sheet.max_row + 1)
                     if sheet.cell(row, rectify).value is not None]
    assert rectify_cells and all(c.is_date for c in rectify_cells)
    assert all(c.number_format == exports.DATE_FORMAT for c in rectify_cells)


def test_the_csv_export_keeps_its_text_dates(client: FlaskClient, db_session: Session,
                                            as_role) -> None:
    seed_ledger(db_session)
    db_session.commit()
    as_role("supervisor")
    body = client.get("/admin/ledger.csv").get_data(as_text=True)
    assert re.search(r",20\d\d-\d\d-\d\d \d\d:\d\d,", body)
    assert tuple(body.lstrip("\ufeff").splitlines()[0].split(",")) == ledger.EXPORT_HEADERS


def test_the_exports_write_dates_in_both_formats() -> None:
    moment, day = dt.datetime(2026, 11, 3, 9, 30), dt.date(2026, 12, 1)
    csv_text = b"".join(exports.csv_chunks(("a", "b"), [(moment, day)])).decode("utf-8-sig")
    assert csv_text.splitlines()[1] == "2026-11-03 09:30,2026-12-01"
    data = b"".join(exports.xlsx_chunks(("a", "b"), [(moment, day)], "s"))
    sheet = load_workbook(io.BytesIO(data))["s"]
    assert sheet["A2"].value == moment and sheet["A2"].number_format == exports.DATETIME_FORMAT
    assert sheet["B2"].value.date() == day and sheet["B2"].number_format == exports.DATE_FORMAT


# ---------------------------------------------------------------- feeds


FEED_LINK = re.compile(
    r'<link rel="alternate" type="application/atom\+xml" title="[^"]+" '
    r'href="/disclosures/feed\.atom">')


@pytest.mark.parametrize("url", ["/", "/disclosures", "/open-data"])
def test_pages_that_have_a_feed_name_it_in_head(client: FlaskClient, url: str) -> None:
    html = client.get(url).get_data(as_text=True)
    head = html[:html.index("</head>")]
    assert FEED_LINK.search(head), url
    assert "火灾隐患公示" in FEED_LINK.search(head).group(0)


@pytest.mark.parametrize("url", ["/report", "/track"])
def test_pages_without_a_feed_do_not_name_one(client: FlaskClient, url: str) -> None:
    html = client.get(url).get_data(as_text=True)
    assert "application/atom+xml" not in html[:html.index("</head>")]
