"""Random checks' results on the public site (双随机、一公开, issue 22): only those a moderator
approved, by unit, masked; nothing about the inspector or the location."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.access.audit import AuditLog
from portal.domain.inspection import check_results, draws, rounds
from portal.domain.inspection.rounds import InspectionError
from portal.domain.models import InspectionTask
from portal.domain.models.inspections import Publication
from tests import factories
from tests.admin.conftest import fast_password_hashing, sign_in  # noqa: F401
from tests.conftest import csrf_token
from tests.inspection.rounds_fixtures import people, plan, unit

pytestmark = pytest.mark.usefixtures("app", "fast_password_hashing")


def _checked(db_session: Session, staff) -> list[InspectionTask]:
    """Three random checks done: passed, a finding, passed."""
    unit(db_session, "13812345678小卖部")
    unit(db_session, "李四饭店", venue="restaurant")
    unit(db_session, "王五商店", "V02")
    made = draws.draw(db_session, township=factories.township(db_session),
                      department=factories.department(db_session, "FIRE"), unit_count=3,
                      inspector_count=1, seed="公开", actor=staff["supervisor"])
    assert made.round is not None
    tasks = made.round.tasks
    by_name = {t.unit.name: t for t in tasks}
    for name, problem in (("13812345678小卖部", None), ("李四饭店", "escape"),
                          ("王五商店", None)):
        task = by_name[name]
        answers = {i.code: "ok" for i in rounds.checklist_of(task).items}
        if problem:
            answers[problem] = "problem"
        inspector = next(u for u in staff.values() if u.id == task.inspector_id)
        rounds.complete_task(db_session, task, answers=answers, notes="老板电话13900001111",
                             lat=35.5, lon=113.5, actor=inspector)
    return [by_name[n] for n in ("13812345678小卖部", "李四饭店", "王五商店")]


def test_only_approved_results_are_public_and_masked(client: FlaskClient,
                                                     db_session: Session) -> None:
    staff = people(db_session)
    shop, restaurant, store = _checked(db_session, staff)
    assert {t.publication for t in (shop, restaurant, store)} == {Publication.PENDING}
    db_session.commit()
    assert "暂无公开的抽查结果" in client.get("/checks").get_data(as_text=True)

    sign_in(client, staff["moderator"])
    listing = client.get("/admin/check-results").get_data(as_text=True)
    assert "李四饭店" in listing and "王五商店" in listing
    token = csrf_token(client, "/admin/check-results")
    for task, decision in ((shop, "approve"), (restaurant, "approve"), (store, "refuse")):
        response = client.post(f"/admin/tasks/{task.id}/publication",
                               data={"csrf_token": token, "decision": decision})
        assert response.status_code == 303
    again = client.post(f"/admin/tasks/{shop.id}/publication",
                        data={"csrf_token": token, "decision": "refuse"}, follow_redirects=True)
    assert "不能重复审核" in again.get_data(as_text=True)

    page = client.get("/checks").get_data(as_text=True)
    assert "138********小卖部" in page and "13812345678" not in page
    assert "李四饭店" in page and "发现问题已责令整改" in page and "合格" in page
    assert "阳高乡靠前驻防消防队" in page
    assert "王五商店" not in page  # refused
    # Nothing about the inspectors, the notes or the location.
    for secret in ("fire-", "13900001111", "35.5", "113.5"):
        assert secret not in page
    # The township's own pages show its results, another township's none of them.
    assert "李四饭店" in client.get("/t/yanggao/checks").get_data(as_text=True)
    assert "李四饭店" not in client.get("/t/beishe/checks").get_data(as_text=True)
    assert db_session.scalar(select(AuditLog.id).where(
        AuditLog.action == "check.refuse", AuditLog.object_id == str(store.id))) is not None


def test_a_moderator_of_another_township_cannot_decide(client: FlaskClient,
                                                       db_session: Session) -> None:
    staff = people(db_session)
    shop = _checked(db_session, staff)[0]
    db_session.commit()
    sign_in(client, staff["moderator_b"])
    assert "小卖部" not in client.get("/admin/check-results").get_data(as_text=True)
    token = csrf_token(client, "/admin/check-results")
    assert client.post(f"/admin/tasks/{shop.id}/publication",
                       data={"csrf_token": token, "decision": "approve"}).status_code == 404
    with pytest.raises(InspectionError, match="不属于您的乡镇"):
        check_results.decide(db_session, shop, approve=True, actor=staff["moderator_b"])


def test_a_plain_rounds_result_is_never_offered_for_publication(db_session: Session) -> None:
    staff = people(db_session)
    unit(db_session, "甲商店")
    task = plan(db_session, staff["supervisor"], [staff["grid_a"]], villages=["V01"]).tasks[0]
    rounds.complete_task(db_session, task,
                         answers={i.code: "ok" for i in rounds.checklist_of(task).items},
                         notes="", lat=None, lon=None, actor=staff["grid_a"])
    assert task.publication is Publication.NONE
    assert check_results.pending(db_session, staff["moderator"]) == []
    with pytest.raises(InspectionError, match="双随机"):
        check_results.decide(db_session, task, approve=True, actor=staff["moderator"])
