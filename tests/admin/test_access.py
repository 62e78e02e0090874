"""Every back-office endpoint is guarded, and each role gets exactly what its permissions say."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain.access.permissions import Permission, has_permission
from portal.domain.enums import Role
from portal.domain.models import User
from tests import factories
from tests.admin.conftest import login
from tests.conftest import csrf_token

PUBLIC = {"admin.login", "admin.login_totp"}


def admin_rules(app: Flask):
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")),
                  key=lambda r: r.endpoint)


def test_every_admin_view_carries_the_permission_decorator(app: Flask) -> None:
    unguarded = []
    for rule in admin_rules(app):
        view = app.view_functions[rule.endpoint]
        marked_public = getattr(view, "public_view", False)
        if not getattr(view, "required_permissions", None) and not marked_public:
            unguarded.append(rule.endpoint)
        if marked_public and rule.endpoint not in PUBLIC:
            unguarded.append(f"{rule.endpoint} (marked public)")
    assert unguarded == []


def _url(rule, ids: dict[str, int]) -> str:
    values = {}
    for arg in rule.arguments:
        if arg == "kind":
            values[arg] = "category"
        else:
            values[arg] = ids[arg]
    from flask import url_for
    return url_for(rule.endpoint, **values)


@pytest.fixture
def ids(app: Flask, db_session: Session, staff: dict[str, User]) -> dict[str, int]:
    """Objects every role's officer can reach, so 404 never hides a permission answer."""
    case = factories.make_case(db_session)
    from portal.domain.enums import AssignmentRole
    from portal.domain.models import Assignment, Attachment, RoutingRule
    db_session.add(Assignment(case=case, department=factories.department(db_session, "FIRE"),
                              role=AssignmentRole.LEAD))
    tip = factories.make_tip(db_session)
    photo = Attachment(stored_name="x.jpg", kind="photo", content_type="image/jpeg",
                       size_bytes=1, sha256="0" * 64, tip_id=tip.id)
    db_session.add(photo)
    db_session.flush()
    rule = db_session.query(RoutingRule).first()
    supervision = _supervision_objects(app, db_session, case, staff["supervisor"])
    document = _document(db_session, case, staff["officer"])
    reward = _reward(db_session, case, tip, staff["moderator"])
    rating = _rating(db_session, case, tip)
    inspection = _inspection_objects(db_session, case, staff)
    db_session.commit()
    return {"tip_id": tip.id, "case_id": case.id, "user_id": staff["officer"].id,
            "row_id": factories.category(db_session).id, "rule_id": rule.id,
            "attachment_id": photo.id, "document_id": document.id, "rating_id": rating.id,
            **supervision, **inspection,
            "reward_id": reward.id}


def _inspection_objects(db_session: Session, case, staff: dict[str, User]) -> dict[str, int]:
    """Issue 22: the case's unit in the register, a round with the grid inspector's task on
    it, a random draw, a self-check code and a risk warning."""
    import datetime as dt

    from portal.domain.models import (
        InspectionRound,
        InspectionTask,
        RandomDraw,
        RiskWarning,
        SelfCheckCode,
    )
    today = dt.date(2026, 12, 2)
    fire = factories.department(db_session, "FIRE")
    round_ = InspectionRound(township_id=factories.township(db_session).id, name="冬季排查",
                             starts_on=today, ends_on=today + dt.timedelta(days=30),
                             created_by_id=staff["supervisor"].id)
    db_session.add(round_)
    db_session.flush()
    task = InspectionTask(round_id=round_.id, unit_id=case.unit_id,
                          inspector_id=staff["grid"].id, due_on=round_.ends_on)
    draw = RandomDraw(township_id=round_.township_id, department_id=fire.id, seed="1",
                      unit_count=1, inspector_count=1, drawn_by_id=staff["supervisor"].id)
    code = SelfCheckCode(unit_id=case.unit_id, cycle=1, code_hash="c" * 64,
                         created_by_id=staff["moderator"].id,
                         expires_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    warning = RiskWarning(kind="holiday", title="元旦春节期间火灾风险提示", text="注意用火用电",
                          starts_on=today, ends_on=today + dt.timedelta(days=7),
                          created_by_id=staff["supervisor"].id)
    db_session.add_all([task, draw, code, warning])
    db_session.flush()
    return {"unit_id": case.unit_id, "round_id": round_.id, "task_id": task.id,
            "draw_id": draw.id, "code_id": code.id, "warning_id": warning.id}


def _rating(db_session: Session, case, tip):
    """A 不满意 rating waiting for the supervisor (the ratings pages)."""
    from portal.domain.enums import RatingAnswer, RatingSource
    from portal.domain.models import Rating
    rating = Rating(tip_id=tip.id, case_id=case.id, answer=RatingAnswer.DISSATISFIED,
                    source=RatingSource.TRACK)
    db_session.add(rating)
    db_session.flush()
    return rating


def _reward(db_session: Session, case, tip, moderator: User):
    """A reward proposed for the tip (the reward pages); a bare POST changes nothing."""
    from portal.domain.models import Reward
    reward = Reward(case_id=case.id, tip_id=tip.id, band="general", amount_min=50,
                    amount_max=200, proposed_by_id=moderator.id)
    db_session.add(reward)
    db_session.flush()
    return reward


def _document(db_session: Session, case, officer: User):
    """A document issued on the case (its print page)."""
    import datetime as dt

    from portal.domain.models import CaseDocument
    document = CaseDocument(case_id=case.id, kind="rectify_order", year=2026, seq=1,
                            department=factories.department(db_session, "FIRE"),
                            number="阳高消责改字〔2026〕第1号", issued_on=dt.date(2026, 12, 2),
                            issued_by_id=officer.id,
                            content={"kind": "rectify_order", "title": "责令限期改正通知书"})
    db_session.add(document)
    db_session.flush()
    return document


def _supervision_objects(app: Flask, db_session: Session, case,
                         supervisor: User) -> dict[str, int]:
    """A listing with a stored letter, an urging notice and a bulletin draft."""
    import datetime as dt

    from portal.domain.enums import SupervisionLevel
    from portal.domain.models import Attachment, Bulletin, Listing, UrgingNotice
    from portal.storage import DirectoryStorage
    DirectoryStorage(app.config["UPLOAD_DIR"]).put("access-test-letter.pdf", b"%PDF-1.7")
    listing = Listing(case=case, level=SupervisionLevel.TOWNSHIP, deadline=dt.date(2026, 12, 31),
                      responsible_leader="张三", listed_by_id=supervisor.id)
    db_session.add(listing)
    db_session.flush()
    db_session.add(Attachment(stored_name="access-test-letter.pdf", kind="document",
                              content_type="application/pdf", size_bytes=1, sha256="1" * 64,
                              listing_id=listing.id))
    notice = UrgingNotice(department=factories.department(db_session, "FIRE"), year=2026,
                          seq=1, text="督促函正文", issued_by_id=supervisor.id)
    bulletin = Bulletin(period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 1, 31),
                        title="通报", text="正文", figures={}, created_by_id=supervisor.id)
    db_session.add_all([notice, bulletin])
    db_session.flush()
    return {"listing_id": listing.id, "notice_id": notice.id, "bulletin_id": bulletin.id}


ROLES = [None, *Role]


def expected_status(view, role: Role | None) -> int:
    if getattr(view, "public_view", False):
        return 200
    if role is None:
        return 302
    ok = all(has_permission(role, p) for p in view.required_permissions)
    return 200 if ok else 403


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
def test_role_by_endpoint_table_for_get(app: Flask, client: FlaskClient, staff, ids, role,
                                        monkeypatch) -> None:
    """GET every admin page: 200 with the permission, 403 without, anonymous to the login."""

    class FakeStore:
        def get(self, name: str) -> bytes:
            return b"jpeg"

    # Every view that serves a file reads the one storage of the app.
    monkeypatch.setitem(app.extensions, "portal.storage", FakeStore())
    if role is not None:
        account = next(u for u in staff.values() if u.role is role)
        assert login(client, account.username).status_code == 302
    failures = []
    with app.test_request_context():
        urls = [(rule, _url(rule, ids)) for rule in admin_rules(app) if "GET" in rule.methods]
    for rule, url in urls:
        view = app.view_functions[rule.endpoint]
        want = expected_status(view, role)
        if rule.endpoint == "admin.login" and role is not None:
            want = 302  # already signed in: sent on to their landing page
        if rule.endpoint == "admin.login_totp":
            want = 302  # no password step passed: back to the login
        got = client.get(url)
        if got.status_code != want:
            failures.append(f"{rule.endpoint} {url}: {got.status_code} != {want}")
        cached = got.headers.get("Cache-Control")
        if cached != "no-store":  # no staff answer is kept by a browser or a proxy
            failures.append(f"{rule.endpoint} {url}: Cache-Control {cached}")
        if role is None and want == 302:
            assert got.headers["Location"].startswith("/admin/login")
    assert failures == []


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
def test_role_by_endpoint_table_for_post(app: Flask, client: FlaskClient, staff, ids,
                                         role) -> None:
    """POST every admin action with a valid token: refused (302/403) exactly when it should."""
    if role is not None:
        account = next(u for u in staff.values() if u.role is role)
        assert login(client, account.username).status_code == 302
    token = csrf_token(client, "/admin/password" if role else "/admin/login")
    failures = []
    with app.test_request_context():
        urls = [(rule, _url(rule, ids)) for rule in admin_rules(app)
                if "POST" in rule.methods and rule.endpoint not in PUBLIC
                and rule.endpoint != "admin.logout"]
    for rule, url in urls:
        view = app.view_functions[rule.endpoint]
        want = expected_status(view, role)
        got = client.post(url, data={"csrf_token": token})
        refused = got.status_code == 403 or (
            got.status_code == 302 and got.headers["Location"].startswith("/admin/login"))
        if (want != 200) != refused or (want in (302, 403) and got.status_code != want):
            failures.append(f"{rule.endpoint} {url}: {got.status_code}, expected {want}")
    assert failures == []


def test_a_known_slice_of_the_table(client: FlaskClient, as_role, ids) -> None:
    """Spelled out, so the generated table cannot drift into agreeing with a wrong role map."""
    expectations = {
        "moderator": {"/admin/queue": 200, f"/admin/tips/{ids['tip_id']}": 200,
                      "/admin/users": 403, "/admin/audit": 403, "/admin/ratings": 403,
                      f"/admin/cases/{ids['case_id']}/phone-follow-up": 200},
        "admin": {"/admin/queue": 403, "/admin/users": 200, "/admin/audit": 200,
                  "/admin/routing": 200, "/admin/rewards": 403},
        "supervisor": {"/admin/queue": 403, "/admin/users": 403, "/admin/audit": 200,
                       "/admin/ratings": 200,
                       f"/admin/cases/{ids['case_id']}/phone-follow-up": 200},
        "officer": {"/admin/queue": 403, f"/admin/tips/{ids['tip_id']}": 403,
                    f"/admin/cases/{ids['case_id']}": 200, "/admin/users": 403,
                    "/admin/ratings": 403,
                    f"/admin/cases/{ids['case_id']}/phone-follow-up": 403},
    }
    # 举报奖励: moderators and supervisors; never officers, nothing of it public.
    for role, status in (("moderator", 200), ("supervisor", 200), ("officer", 403)):
        expectations[role]["/admin/rewards"] = status
        expectations[role][f"/admin/rewards/{ids['reward_id']}"] = status
    for role, pages in expectations.items():
        as_role(role)
        for url, status in pages.items():
            assert client.get(url).status_code == status, (role, url)
        client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})


def test_every_post_without_a_csrf_token_is_refused(app: Flask, client: FlaskClient, as_role,
                                                    ids) -> None:
    as_role("moderator")
    with app.test_request_context():
        urls = [_url(rule, ids) for rule in admin_rules(app) if "POST" in rule.methods]
    for url in urls:
        response = client.post(url, data={})
        assert response.status_code == 400, url
        assert "页面已过期" in response.get_data(as_text=True)


def test_permission_names_follow_resource_action() -> None:
    assert Permission.TIPS_MODERATE.value == "tips:moderate"
    assert Permission.IDENTITY_READ.value == "identity:read"
    assert all(":" in p.value or p is Permission.STAFF for p in Permission)
