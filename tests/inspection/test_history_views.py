"""The ledger import's screen (issue 22): dry run by default, then the import, and the goal
panel's 2023 stock as the supervisor reads it."""

from __future__ import annotations

import io
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.enums import Role
from portal.domain.models import Case, User
from tests import factories
from tests.admin.conftest import (  # noqa: F401 (fixture)
    fast_password_hashing,
    make_user,
    sign_in,
    text,
)
from tests.conftest import csrf_token
from tests.inspection.test_history import LEDGER, csv_bytes

URL = "/admin/history/import"


@pytest.fixture
def township_staff(db_session: Session) -> dict[str, User]:
    """The county's supervisor and those of 阳高乡 and 北社乡."""
    return {f"supervisor_{suffix}": make_user(db_session, f"hist-{suffix}", Role.SUPERVISOR,
                                              township=township)
            for suffix, township in (("a", "yanggao"), ("b", "beishe"), ("county", None))}


def imported(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Case).where(Case.imported)) or 0


def upload(client: FlaskClient, data: bytes, township_id: int, *, dry_run: bool,
           name: str = "2023年重大火灾隐患.csv"):
    form = {"csrf_token": csrf_token(client, URL), "township": str(township_id),
            "file": (io.BytesIO(data), name)}
    if dry_run:
        form["dry_run"] = "y"
    return client.post(URL, data=form, content_type="multipart/form-data")


def test_a_dry_run_lists_the_rows_then_the_import_fills_the_goal_panel(
    client: FlaskClient, db_session: Session, township_staff: dict[str, User]
) -> None:
    sign_in(client, township_staff["supervisor_county"])
    page = text(client, URL)
    assert 'name="dry_run"' in page and "checked" in page  # the dry run is the default
    hub = text(client, "/admin/inspections")
    assert "导入历史隐患台账" in hub and "预警与历史台账" in hub
    yanggao = factories.township(db_session)

    response = upload(client, csv_bytes(LEDGER), yanggao.id, dry_run=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body
    assert "试导入结果（未保存）" in body and body.count("<td>将新建") == 5
    assert "阳高旅馆" in body and imported(db_session) == 0

    response = upload(client, csv_bytes(LEDGER), yanggao.id, dry_run=False)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "已新建 5 件" in body
    assert imported(db_session) == 5

    goals = text(client, "/admin/supervision/goals")
    found = re.search(r"2023年底存量重大火灾隐患 <a [^>]*>(\d+) 处</a>，其中2024年底前整改销案 "
                      r"<a [^>]*>(\d+) 处</a>", goals)
    assert found and found.groups() == ("3", "1")

    # The case page tells an imported case by its timeline.
    case_id = db_session.scalars(select(Case.id).where(Case.imported)).first()
    assert "历史台账导入" in text(client, f"/admin/cases/{case_id}")

    # Twice: nothing new.
    response = upload(client, csv_bytes(LEDGER), yanggao.id, dry_run=False)
    assert "已新建 0 件，已导入过、不变 5 件" in response.get_data(as_text=True)
    assert imported(db_session) == 5


def test_a_townships_supervisor_imports_only_their_own_township(
    client: FlaskClient, db_session: Session, township_staff: dict[str, User]
) -> None:
    sign_in(client, township_staff["supervisor_b"])
    page = text(client, URL)
    assert "北社乡" in page and "阳高乡" not in page
    response = upload(client, csv_bytes(LEDGER), factories.township(db_session).id,
                      dry_run=False)
    assert response.status_code == 400 and "请选择台账所属乡镇" in response.get_data(as_text=True)
    assert imported(db_session) == 0


def test_errors_are_shown_by_row_and_nothing_is_imported(
    client: FlaskClient, db_session: Session, township_staff: dict[str, User]
) -> None:
    sign_in(client, township_staff["supervisor_a"])
    rows = [list(LEDGER[0])]
    rows[0][8] = "某天"
    response = upload(client, csv_bytes(rows), factories.township(db_session).id,
                      dry_run=False)
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and "第 2 行「发现日期」" in body
    response = upload(client, b"x", factories.township(db_session).id, dry_run=False,
                      name="ledger.txt")
    assert response.status_code == 400 and "请上传 .csv 或 .xlsx 文件" in response.get_data(
        as_text=True)
    assert imported(db_session) == 0


def test_a_post_without_a_file_or_township_is_refused_with_a_message(
    client: FlaskClient, township_staff: dict[str, User]
) -> None:
    sign_in(client, township_staff["supervisor_county"])
    response = client.post(URL, data={"csrf_token": csrf_token(client, URL)})
    assert response.status_code == 400 and "请选择台账所属乡镇" in response.get_data(as_text=True)
