"""The rounds' screens (issue 22): a supervisor plans a round, a grid inspector completes a
task on the phone page with the checklist and a photo; another township's round and task
answer 404."""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.enums import CaseStatus
from portal.domain.inspection import rounds
from portal.domain.models import Attachment, Case, InspectionRound, InspectionTask
from portal.domain.models.inspections import TaskResult, TaskStatus
from tests import factories, images
from tests.admin.conftest import fast_password_hashing, sign_in  # noqa: F401
from tests.conftest import csrf_token
from tests.inspection.rounds_fixtures import people, plan, unit

pytestmark = pytest.mark.usefixtures("app", "fast_password_hashing")

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


def test_a_supervisor_plans_a_round_over_two_villages_on_the_form(
        client: FlaskClient, db_session: Session) -> None:
    staff = people(db_session)
    for name, village in (("甲商店", "V01"), ("乙商店", "V02"), ("丙商店", "V03")):
        unit(db_session, name, village)
    db_session.commit()
    sign_in(client, staff["supervisor"])
    token = csrf_token(client, "/admin/rounds/new")
    response = client.post("/admin/rounds/new", data={
        "csrf_token": token, "name": "元旦排查", "township": factories.township(db_session).id,
        "villages": [factories.village(db_session, "V01").id,
                     factories.village(db_session, "V02").id],
        "inspectors": [staff["grid_a"].id, staff["grid_b"].id],
        "starts_on": "2026-12-01", "ends_on": "2026-12-20"})
    assert response.status_code == 303
    round_ = db_session.scalars(select(InspectionRound).where(
        InspectionRound.name == "元旦排查")).one()
    assert len(round_.tasks) == 2
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已完成 0 / 2" in page and "东庄村" in page
    assert "元旦排查" in client.get("/admin/rounds").get_data(as_text=True)


def test_the_plan_form_refuses_a_round_without_inspectors_and_keeps_the_input(
        client: FlaskClient, db_session: Session) -> None:
    staff = people(db_session)
    unit(db_session, "甲商店")
    db_session.commit()
    sign_in(client, staff["supervisor"])
    response = client.post("/admin/rounds/new", data={
        "csrf_token": csrf_token(client, "/admin/rounds/new"), "name": "元旦排查",
        "township": factories.township(db_session).id, "starts_on": "2026-12-01",
        "ends_on": "2026-12-20"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "请至少选择一名检查人员" in html
    assert 'value="元旦排查"' in html


def test_a_grid_inspector_completes_a_task_on_the_phone_page_with_a_photo(
        client: FlaskClient, db_session: Session) -> None:
    staff = people(db_session)
    unit(db_session, "甲商店")
    task = plan(db_session, staff["supervisor"], [staff["grid_a"]], villages=["V01"]).tasks[0]
    db_session.commit()
    client.environ_base["HTTP_USER_AGENT"] = PHONE  # the whole visit from a phone
    sign_in(client, staff["grid_a"])
    assert "甲商店" in client.get("/admin/tasks").get_data(as_text=True)
    url = f"/admin/tasks/{task.id}"
    page = client.get(url).get_data(as_text=True)
    checklist = rounds.checklist_of(task)
    for item in checklist.items:
        assert f'name="item-{item.code}"' in page
    assert 'accept="image/*"' in page and "capture" in page
    assert "js/forms.js" in page and 'name="lat"' in page
    data = {"csrf_token": csrf_token(client, url), "notes": "灭火器过期，已当场更换",
            "photos": (io.BytesIO(images.jpeg_with_gps()), "site.jpg"),
            "lat": "35.123456", "lon": "113.654321"}
    data |= {f"item-{i.code}": "ok" for i in checklist.items}
    data["item-facilities"] = "corrected"
    response = client.post(url, data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    db_session.expire_all()
    done = db_session.get(InspectionTask, task.id)
    assert done is not None and done.status is TaskStatus.DONE
    assert done.result is TaskResult.CORRECTED and done.case_id is None
    assert done.location_source == "device" and done.lat == pytest.approx(35.123456)
    photo = db_session.scalars(select(Attachment).where(
        Attachment.inspection_task_id == task.id)).one()
    assert not photo.public and photo.uploaded_by_id == staff["grid_a"].id
    shown = client.get(url).get_data(as_text=True)
    assert "发现问题已当场改正" in shown
    image = client.get(f"/admin/tasks/{task.id}/photos?file={photo.id}")
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    # The same form sent again (a double tap): refused, nothing changed.
    again = client.post(url, data=data | {"photos": (io.BytesIO(images.jpeg_with_gps()),
                                                     "site.jpg")},
                        content_type="multipart/form-data", follow_redirects=True)
    assert "不能重复提交" in again.get_data(as_text=True)
    assert db_session.scalar(select(Attachment.id).where(
        Attachment.inspection_task_id == task.id).offset(1)) is None


def test_a_finding_from_the_phone_page_opens_a_routed_case(
        client: FlaskClient, db_session: Session) -> None:
    staff = people(db_session)
    unit(db_session, "甲商店")
    task = plan(db_session, staff["supervisor"], [staff["grid_a"]], villages=["V01"]).tasks[0]
    db_session.commit()
    sign_in(client, staff["grid_a"])
    url = f"/admin/tasks/{task.id}"
    data = {"csrf_token": csrf_token(client, url), "notes": ""}
    data |= {f"item-{i.code}": "ok" for i in rounds.checklist_of(task).items}
    data["item-escape"] = "problem"
    response = client.post(url, data=data, follow_redirects=True)
    assert "已立案" in response.get_data(as_text=True)
    db_session.expire_all()
    case = db_session.get(Case, db_session.get(InspectionTask, task.id).case_id)
    assert case is not None and case.status is CaseStatus.ROUTED
    # The lead department's officer finds, on the case, the task it came from (its checklist
    # and photos are there, not on the case).
    sign_in(client, staff["fire_a"])
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert f'href="/admin/tasks/{task.id}"' in page and task.round.name in page
    assert client.get(f"/admin/tasks/{task.id}").status_code == 200


def test_an_unanswered_item_is_named_and_the_answers_kept(
        client: FlaskClient, db_session: Session) -> None:
    staff = people(db_session)
    unit(db_session, "甲商店")
    task = plan(db_session, staff["supervisor"], [staff["grid_a"]], villages=["V01"]).tasks[0]
    db_session.commit()
    sign_in(client, staff["grid_a"])
    url = f"/admin/tasks/{task.id}"
    items = rounds.checklist_of(task).items
    data = {"csrf_token": csrf_token(client, url)}
    data |= {f"item-{i.code}": "ok" for i in items[1:]}
    response = client.post(url, data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and f"第 1 项：{items[0].text}" in html
    assert f'name="item-{items[1].code}" value="ok" required checked' in html
    db_session.expire_all()
    assert db_session.get(InspectionTask, task.id).status is TaskStatus.OPEN


def test_another_inspectors_task_is_read_only_and_another_townships_is_404(
        client: FlaskClient, db_session: Session) -> None:
    staff = people(db_session)
    unit(db_session, "甲商店")
    round_ = plan(db_session, staff["supervisor"], [staff["grid_a"]], villages=["V01"])
    task = round_.tasks[0]
    db_session.commit()
    sign_in(client, staff["grid_b"])
    page = client.get(f"/admin/tasks/{task.id}").get_data(as_text=True)
    assert "只有该检查人员可以登记结果" in page and 'name="item-' not in page
    sign_in(client, staff["grid_other"])
    assert client.get(f"/admin/tasks/{task.id}").status_code == 404
    sign_in(client, staff["supervisor_b"])
    assert client.get(f"/admin/rounds/{round_.id}").status_code == 404
    assert "冬季排查" not in client.get("/admin/rounds").get_data(as_text=True)


def test_the_hub_leads_each_role_to_its_screens(client: FlaskClient,
                                                db_session: Session) -> None:
    staff = people(db_session)
    sign_in(client, staff["grid_a"])
    hub = client.get("/admin/inspections").get_data(as_text=True)
    assert "我的检查任务" in hub and "双随机抽查" not in hub
    sign_in(client, staff["supervisor"])
    hub = client.get("/admin/inspections").get_data(as_text=True)
    assert "排查与抽查" in hub and "双随机抽查" in hub
    sign_in(client, staff["moderator"])
    assert "抽查结果公开审核" in client.get("/admin/inspections").get_data(as_text=True)
