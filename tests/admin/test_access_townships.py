"""The access matrix's township dimension (issue 18): every back-office endpoint × role, for
staff of the township that owns the objects, of another township, and of the county.

Objects of 阳高乡 (tip, case, photo, listing, urging notice, bulletin draft, officer account,
its own routing rule, its village) are addressed by every endpoint that takes an id. Staff of
北社乡 never reach them (403 or 404, never the object), and no list page they can open shows
them; 阳高乡's staff and the county's get exactly what their role permits.
"""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain.administration import vocabulary
from portal.domain.enums import (
    AssignmentRole,
    RatingAnswer,
    RatingSource,
    Role,
    SupervisionLevel,
)
from portal.domain.models import (
    Assignment,
    Attachment,
    Bulletin,
    CaseDocument,
    Listing,
    Rating,
    Reward,
    RoutingRule,
    UrgingNotice,
    User,
)
from tests import factories
from tests.admin.conftest import login
from tests.admin.test_access import PUBLIC, admin_rules, expected_status
from tests.conftest import csrf_token

# Names that appear only on 阳高乡's objects: a page that shows one of them leaks it.
MARKERS = ("阳高矩阵测试商店", "阳高矩阵测试单位", "阳高矩阵督促函", "阳高矩阵通报",
           "阳高矩阵排查", "阳高矩阵预警")


@pytest.fixture
def yanggao(app: Flask, db_session: Session, township_staff: dict[str, User]) -> dict[str, int]:
    """One object of every kind, in 阳高乡 (village V01)."""
    from portal.storage import DirectoryStorage

    village = factories.village(db_session, "V01")
    case = factories.make_case(db_session, village=village)
    case.unit.name = case.unit.normalized_name = "阳高矩阵测试单位"
    fire, dadui = (factories.department(db_session, code) for code in ("FIRE", "DADUI"))
    db_session.add_all([Assignment(case=case, department=fire, role=AssignmentRole.LEAD),
                        Assignment(case=case, department=dadui, role=AssignmentRole.ASSIST)])
    tip = factories.make_tip(db_session, village=village, unit_name="阳高矩阵测试商店")
    photo = Attachment(stored_name="township-matrix-photo.jpg", kind="photo",
                       content_type="image/jpeg", size_bytes=1, sha256="0" * 64, tip_id=tip.id)
    db_session.add(photo)
    supervisor = township_staff["supervisor_a"]
    DirectoryStorage(app.config["UPLOAD_DIR"]).put("township-matrix-letter.pdf", b"%PDF-1.7")
    listing = Listing(case=case, level=SupervisionLevel.TOWNSHIP,
                      deadline=dt.date(2026, 12, 31), responsible_leader="张三",
                      listed_by_id=supervisor.id)
    db_session.add(listing)
    db_session.flush()
    db_session.add(Attachment(stored_name="township-matrix-letter.pdf", kind="document",
                              content_type="application/pdf", size_bytes=1, sha256="1" * 64,
                              listing_id=listing.id))
    town = factories.township(db_session, "yanggao")
    notice = UrgingNotice(department=factories.department(db_session, "FIRE"), year=2026,
                          seq=1, text="阳高矩阵督促函", issued_by_id=supervisor.id,
                          township_id=town.id)
    bulletin = Bulletin(period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 1, 31),
                        title="阳高矩阵通报", text="正文", figures={},
                        created_by_id=supervisor.id, township_id=town.id)
    other, zj = factories.category(db_session, "other"), factories.department(db_session, "ZJ")
    rule = RoutingRule(township_id=town.id, category=other, village=village, lead_department=zj)
    document = CaseDocument(case_id=case.id, kind="rectify_order", year=2026, seq=1,
                            department=fire, number="阳高消责改字〔2026〕第1号",
                            issued_on=dt.date(2026, 12, 2),
                            issued_by_id=township_staff["officer_a"].id,
                            content={"kind": "rectify_order", "title": "责令限期改正通知书",
                                     "unit": "阳高矩阵测试单位"})
    rating = Rating(tip_id=tip.id, case_id=case.id, answer=RatingAnswer.DISSATISFIED,
                    source=RatingSource.TRACK, comment="阳高矩阵测试商店")
    reward = Reward(case_id=case.id, tip_id=tip.id, band="general", amount_min=50,
                    amount_max=200, proposed_by_id=township_staff["moderator_a"].id)
    db_session.add_all([notice, bulletin, rule, document, rating, reward])
    inspection = _inspection_objects(db_session, case, town, township_staff)
    db_session.commit()
    return {**inspection, "tip_id": tip.id, "case_id": case.id, "attachment_id": photo.id,
            "listing_id": listing.id, "notice_id": notice.id, "bulletin_id": bulletin.id,
            "user_id": township_staff["officer_a"].id, "rule_id": rule.id,
            "row_id": village.id, "category_id": other.id, "township_id": town.id,
            "document_id": document.id, "rating_id": rating.id, "reward_id": reward.id}


def _inspection_objects(db_session: Session, case, town, township_staff) -> dict[str, int]:
    """Issue 22, in 阳高乡: the case's unit in the register, a round with its grid
    inspector's task on the unit, a random draw of its fire team, a self-check code of the
    unit and a risk warning of the township."""
    from portal.domain.models import (
        InspectionRound,
        InspectionTask,
        RandomDraw,
        RiskWarning,
        SelfCheckCode,
    )
    today = dt.date(2026, 12, 2)
    supervisor = township_staff["supervisor_a"]
    round_ = InspectionRound(township_id=town.id, name="阳高矩阵排查", starts_on=today,
                             ends_on=today + dt.timedelta(days=30), created_by_id=supervisor.id)
    db_session.add(round_)
    db_session.flush()
    task = InspectionTask(round_id=round_.id, unit_id=case.unit_id,
                          inspector_id=township_staff["grid_a"].id, due_on=round_.ends_on)
    draw = RandomDraw(township_id=town.id, department_id=factories.department(db_session,
                                                                              "FIRE").id,
                      seed="1", unit_count=1, inspector_count=1, drawn_by_id=supervisor.id,
                      unit_ids=[case.unit_id])
    code = SelfCheckCode(unit_id=case.unit_id, cycle=1, code_hash="d" * 64,
                         created_by_id=township_staff["moderator_a"].id,
                         expires_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    warning = RiskWarning(township_id=town.id, kind="holiday", title="阳高矩阵预警",
                          text="注意用火用电", starts_on=today,
                          ends_on=today + dt.timedelta(days=7), created_by_id=supervisor.id)
    db_session.add_all([task, draw, code, warning])
    db_session.flush()
    return {"unit_id": case.unit_id, "round_id": round_.id, "task_id": task.id,
            "draw_id": draw.id, "code_id": code.id, "warning_id": warning.id}


# Switching a county entry off acts on the signed-in admin's own township (the entry is the
# county's, shared by all): checked below by what it leaves of the other township's use.
OWN_TOWNSHIP_ONLY = {"admin.vocabulary_switch"}


def _url(rule, ids: dict[str, int]) -> str:
    kind = "category" if rule.endpoint in OWN_TOWNSHIP_ONLY else "village"
    values = {arg: (kind if arg == "kind" else ids[arg]) for arg in rule.arguments}
    if rule.endpoint in OWN_TOWNSHIP_ONLY:
        values["row_id"] = ids["category_id"]
    return url_for(rule.endpoint, **values)


def _names_an_object(rule) -> bool:
    return bool(set(rule.arguments) - {"kind"})


class FakeStore:
    def get(self, name: str) -> bytes:
        return b"jpeg"


def _walk(app: Flask, client: FlaskClient, user: User, ids: dict[str, int], monkeypatch
          ) -> list[tuple[object, str, int, str]]:
    """GET every admin page as ``user``: (rule, url, status, body)."""
    monkeypatch.setitem(app.extensions, "portal.storage", FakeStore())
    assert login(client, user.username).status_code == 302
    with app.test_request_context():
        urls = [(rule, _url(rule, ids)) for rule in admin_rules(app)
                if "GET" in rule.methods and rule.endpoint not in PUBLIC]
    seen = []
    for rule, url in urls:
        got = client.get(url)
        seen.append((rule, url, got.status_code,
                     got.get_data(as_text=True) if got.mimetype == "text/html" else ""))
    return seen


OTHER = ["admin_b", "moderator_b", "supervisor_b", "officer_b", "grid_b"]


@pytest.mark.parametrize("who", OTHER)
def test_another_townships_staff_reach_nothing_of_it(app: Flask, client: FlaskClient,
                                                     township_staff, yanggao, who,
                                                     monkeypatch) -> None:
    user = township_staff[who]
    failures = []
    for rule, url, status, body in _walk(app, client, user, yanggao, monkeypatch):
        endpoint = rule.endpoint  # type: ignore[attr-defined]
        if _names_an_object(rule) and status not in (403, 404):
            failures.append(f"{endpoint} {url}: {status}, expected 403/404")
        leaked = [m for m in MARKERS if m in body]
        if leaked:
            failures.append(f"{endpoint} {url}: shows {leaked}")
    assert failures == []


@pytest.mark.parametrize("who", OTHER)
def test_another_townships_staff_change_nothing_of_it(app: Flask, client: FlaskClient,
                                                      township_staff, yanggao, who,
                                                      db_session: Session) -> None:
    user = township_staff[who]
    assert login(client, user.username).status_code == 302
    token = csrf_token(client, "/admin/password")
    failures = []
    with app.test_request_context():
        urls = [(rule, _url(rule, yanggao)) for rule in admin_rules(app)
                if "POST" in rule.methods and rule.endpoint not in PUBLIC
                and rule.endpoint != "admin.logout" and _names_an_object(rule)]
    for rule, url in urls:
        got = client.post(url, data={"csrf_token": token})
        if rule.endpoint in OWN_TOWNSHIP_ONLY:
            continue
        if got.status_code not in (403, 404):
            failures.append(f"{rule.endpoint} {url}: {got.status_code}, expected 403/404")
    assert failures == []
    assert vocabulary.switched_off(db_session, "category", yanggao["township_id"]) == set()


@pytest.mark.parametrize("who", ["admin_a", "moderator_a", "supervisor_a", "officer_a", "grid_a",
                                 "admin_county", "moderator_county", "supervisor_county",
                                 "officer_county"])
def test_its_own_and_the_countys_staff_get_what_their_role_permits(
        app: Flask, client: FlaskClient, township_staff, yanggao, who, monkeypatch) -> None:
    user = township_staff[who]
    failures = []
    for rule, url, status, _body in _walk(app, client, user, yanggao, monkeypatch):
        endpoint = rule.endpoint  # type: ignore[attr-defined]
        view = app.view_functions[endpoint]
        want = expected_status(view, user.role)
        if endpoint == "admin.login":
            continue
        county_only = getattr(view, "county_only", False)
        if county_only and user.township_id is not None and status in (403, 404):
            continue  # the county's own screens (townships, shared vocabularies)
        if status != want:
            failures.append(f"{endpoint} {url}: {status} != {want}")
    assert failures == []


def test_the_county_officer_sees_its_assignments_in_every_township(
        client: FlaskClient, db_session: Session, township_staff, yanggao) -> None:
    beishe = factories.make_case(db_session, village=factories.village(db_session, "BS-V01"))
    beishe.unit.name = beishe.unit.normalized_name = "北社矩阵测试单位"
    dadui = factories.department(db_session, "DADUI")
    db_session.add(Assignment(case=beishe, department=dadui, role=AssignmentRole.LEAD))
    db_session.commit()
    assert login(client, township_staff["officer_county"].username).status_code == 302
    for case_id in (yanggao["case_id"], beishe.id):
        assert client.get(f"/admin/cases/{case_id}").status_code == 200
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert login(client, township_staff["officer_b"].username).status_code == 302
    assert client.get(f"/admin/cases/{beishe.id}").status_code == 404  # not its department's
    assert client.get(f"/admin/cases/{yanggao['case_id']}").status_code == 404


def test_roles_of_the_matrix_are_every_staff_role(app: Flask, township_staff) -> None:
    assert {u.role for u in township_staff.values()} == set(Role)
