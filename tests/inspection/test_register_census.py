"""A village's census imported into the register (issue 22): CSV (UTF-8 with or without BOM,
GBK) or XLSX; errors named by row and column; a dry run changes nothing; a second import of
the same file changes nothing."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from portal.domain.inspection import census, register
from portal.domain.models import AuditLog, Unit, User
from portal.domain.reporting.identity import IdentityCipher
from tests import factories
from tests.admin import conftest as admin_fixtures
from tests.admin.conftest import (  # noqa: F401 (fixtures)
    fast_password_hashing,
    sign_in,
)
from tests.admin.conftest import text as page_text
from tests.conftest import csrf_token

# The two townships' staff (tests/admin/conftest.py), as a fixture of this module.
township_staff = admin_fixtures.township_staff

HEADER = ["编号", "村", "名称", "地址", "场所类型", "负责人", "联系电话", "风险等级", "纬度",
          "经度"]
ROWS = [
    ["YG-001", "V01", "阳高小卖部", "东街1号", "沿街商铺", "王五", "13800138000", "高",
     "36.1", "113.4"],
    ["", "东庄村（示例）", "东庄饭店", "西街8号", "restaurant", "", "", "一般", "", ""],
    ["YG-003", "V01", "李家作坊", "", "家庭作坊", "", "0355-1234567", "低", "", ""],
]
URL = "/admin/register/import"


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8-sig", sep: str = ",") -> bytes:
    lines = [sep.join(HEADER), *(sep.join(row) for row in rows)]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        # Excel keeps numbers as numbers: a phone number, the coordinates.
        sheet.append([float(v) if v.replace(".", "", 1).isdigit() else v for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def secret(app: Flask) -> IdentityCipher:
    return IdentityCipher(app.config["FIELD_KEYS"])


def run(session: Session, data: bytes, secret: IdentityCipher, actor: User, *,
        dry_run: bool = False, name: str = "普查.csv") -> census.CensusReport:
    return census.import_census(session, data, name, township_id=factories.township(session).id,
                                cipher=secret, actor=actor, dry_run=dry_run)


def census_units(session: Session) -> list[Unit]:
    return list(session.scalars(select(Unit).where(Unit.source == "census").order_by(Unit.id)))


@pytest.mark.parametrize(("data", "name"), [
    (csv_bytes(ROWS), "普查.csv"),
    (csv_bytes(ROWS, "utf-8"), "普查.csv"),
    (csv_bytes(ROWS, "gbk"), "普查.csv"),
    (csv_bytes(ROWS, "utf-8", sep="\t"), "普查.txt"),  # copied out of a spreadsheet
    (xlsx_bytes(ROWS), "普查.xlsx"),
])
def test_a_census_imports_once_and_a_second_import_changes_nothing(
    db_session: Session, township_staff: dict[str, User], secret: IdentityCipher,
    data: bytes, name: str,
) -> None:
    actor = township_staff["moderator_a"]
    existing = register.unit_for(db_session, village_id=factories.village(db_session, "V02").id,
                                 name="东庄 饭店")
    trial = run(db_session, data, secret, actor, dry_run=True, name=name)
    assert trial.errors == [] and [p.action for p in trial.planned] == [
        "create", "update", "create"]
    assert census_units(db_session) == []  # the dry run wrote nothing

    report = run(db_session, data, secret, actor, name=name)
    assert [p.action for p in report.planned] == ["create", "update", "create"]
    created = census_units(db_session)
    assert [u.name for u in created] == ["阳高小卖部", "李家作坊"]
    shop = created[0]
    assert (shop.census_ref, shop.address, shop.risk_level) == ("YG-001", "东街1号", "high")
    assert (shop.lat, shop.lon) == (36.1, 113.4)
    assert shop.venue_type_id == factories.venue_type(db_session, "street_shop").id
    assert register.responsible_of(shop, secret) == ("王五", "13800138000")
    raw = db_session.execute(text("SELECT contact_enc FROM units WHERE id = :i"),
                             {"i": shop.id}).scalar_one()
    assert b"13800138000" not in bytes(raw)
    # The restaurant was already known: matched by name in its village, completed.
    assert existing.address == "西街8号" and existing.source == "report"
    assert existing.venue_type_id == factories.venue_type(db_session, "restaurant").id
    audits = list(db_session.scalars(select(AuditLog).where(
        AuditLog.action == "census.import")))
    assert len(audits) == 1 and audits[0].after["created"] == 2
    assert audits[0].after["updated"] == 1

    again = run(db_session, data, secret, actor, name=name)
    assert [p.action for p in again.planned] == ["unchanged"] * 3
    assert len(census_units(db_session)) == 2


def test_a_renamed_place_is_found_by_its_census_reference(
    db_session: Session, township_staff: dict[str, User], secret: IdentityCipher
) -> None:
    actor = township_staff["moderator_a"]
    run(db_session, csv_bytes(ROWS), secret, actor)
    renamed = [["YG-001", "V01", "阳高便利店", "东街1号", "", "", "", "", "", ""]]
    report = run(db_session, csv_bytes(renamed), secret, actor)
    assert [(p.action, p.changes) for p in report.planned] == [("update", ("名称",))]
    assert [u.name for u in census_units(db_session)] == ["阳高便利店", "东庄饭店", "李家作坊"]


def test_errors_are_named_by_row_and_column_and_nothing_is_imported(
    db_session: Session, township_staff: dict[str, User], secret: IdentityCipher
) -> None:
    bad = [
        ROWS[0],
        ["", "北社村（示例）", "北社旅馆", "", "", "", "", "", "", ""],  # another township's
        ["", "V01", "", "", "宇宙飞船", "", "12345", "很高", "95", "113"],
        ["YG-001", "V01", "重复编号", "", "", "", "", "", "", ""],
    ]
    report = run(db_session, csv_bytes(bad), secret, township_staff["moderator_a"])
    messages = [str(e) for e in report.errors]
    assert "第 3 行「村」：本乡镇没有“北社村（示例）”这个村（填村的代码或名称）" in messages
    assert {"第 4 行「名称」：未填写", "第 4 行「风险等级」：只能填 低、一般 或 高",
            "第 4 行「纬度」：须为 -90 到 90 之间的数字",
            "第 4 行「联系电话」：不是有效的手机或固定电话号码",
            "第 5 行「编号」：与第 2 行重复"} <= set(messages)
    assert any(m.startswith("第 4 行「场所类型」") for m in messages)
    assert census_units(db_session) == [] and "未导入任何内容" in report.message


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"", "x.csv", "文件是空的"),
    ("名称,地址\n阳高小卖部,东街\n".encode(), "x.csv", "缺少列：村"),
    (b"PK\x03\x04 not really a workbook", "x.xlsx", "无法打开 XLSX 文件"),
    (b"\xd0\xcf\x11\xe0 old excel", "x.xls", "不支持旧版 .xls"),
])
def test_an_unreadable_file_is_refused_as_a_whole(
    db_session: Session, township_staff: dict[str, User], secret: IdentityCipher,
    data: bytes, name: str, message: str,
) -> None:
    with pytest.raises(census.CensusError, match=message):
        run(db_session, data, secret, township_staff["moderator_a"], name=name)


def upload(client: FlaskClient, data: bytes, township_id: int, *, dry_run: bool,
           name: str = "普查.xlsx"):
    form = {"csrf_token": csrf_token(client, URL), "township": str(township_id),
            "file": (io.BytesIO(data), name)}
    if dry_run:
        form["dry_run"] = "y"
    return client.post(URL, data=form, content_type="multipart/form-data")


def test_the_import_screen_lists_the_changes_then_imports(
    client: FlaskClient, db_session: Session, township_staff: dict[str, User]
) -> None:
    sign_in(client, township_staff["moderator_a"])
    page = page_text(client, URL)
    assert 'name="dry_run"' in page and "checked" in page and "风险等级" in page
    yanggao = factories.township(db_session).id
    count = lambda: db_session.scalar(select(func.count(Unit.id)).where(  # noqa: E731
        Unit.source == "census"))
    trial = upload(client, xlsx_bytes(ROWS), yanggao, dry_run=True)
    body = trial.get_data(as_text=True)
    assert trial.status_code == 200 and "试导入结果（未保存）" in body
    assert body.count("<td>新增</td>") == 3 and count() == 0
    done = upload(client, xlsx_bytes(ROWS), yanggao, dry_run=False)
    assert done.status_code == 200 and "已导入：新增 3 个" in done.get_data(as_text=True)
    assert count() == 3
    again = upload(client, xlsx_bytes(ROWS), yanggao, dry_run=False)
    assert "新增 0 个、更新 0 个、未变 3 个" in again.get_data(as_text=True) and count() == 3
    # Errors are listed by row, and nothing is saved.
    bad = upload(client, csv_bytes([["", "V09", "某店", "", "", "", "", "", "", ""]]), yanggao,
                 dry_run=False, name="bad.csv")
    assert bad.status_code == 400 and "第 2 行「村」" in bad.get_data(as_text=True)
    # Another township cannot be chosen by a township's staff.
    other = factories.township(db_session, "beishe").id
    assert upload(client, xlsx_bytes(ROWS), other, dry_run=False).status_code == 400
    assert count() == 3
