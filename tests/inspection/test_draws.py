"""Random checks (双随机, issue 22): the draw is reproducible from its recorded seed, the
weights shift it measurably, and every draw — redraws included — is kept and audited."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.access.audit import AuditLog
from portal.domain.enums import Severity
from portal.domain.inspection import draws
from portal.domain.inspection.rounds import InspectionError
from portal.domain.models import RandomDraw
from portal.domain.models.inspections import RoundKind, TaskStatus
from tests import factories
from tests.admin.conftest import fast_password_hashing, sign_in  # noqa: F401
from tests.conftest import csrf_token
from tests.inspection.rounds_fixtures import people, unit

pytestmark = pytest.mark.usefixtures("app", "fast_password_hashing")


def _register(db_session: Session) -> None:
    for number in range(8):
        unit(db_session, f"商店{number}", "V01" if number % 2 else "V02")
    unit(db_session, "作坊", "V03", venue="family_workshop")


def _draw(db_session: Session, actor, seed: str | None = "冬季-1", **values) -> RandomDraw:
    return draws.draw(db_session, township=factories.township(db_session),
                      department=factories.department(db_session, "FIRE"),
                      unit_count=values.pop("unit_count", 3),
                      inspector_count=values.pop("inspector_count", 2), seed=seed,
                      actor=actor, **values)


def test_the_same_seed_reproduces_the_same_draw(db_session: Session) -> None:
    staff = people(db_session)
    _register(db_session)
    first = _draw(db_session, staff["supervisor"])
    second = _draw(db_session, staff["supervisor"])
    assert first.unit_ids == second.unit_ids and first.inspector_ids == second.inspector_ids
    assert len(set(first.unit_ids)) == 3 and len(set(first.inspector_ids)) == 2
    # From the record alone, whatever the register became since.
    unit(db_session, "新开商店")
    assert draws.reproduce(first) == (first.unit_ids, first.inspector_ids)
    others = {tuple(_draw(db_session, staff["supervisor"], seed=f"s{n}").unit_ids)
              for n in range(5)}
    assert len(others) > 1
    # The draw planned a random-check round of the drawn units for the drawn inspectors.
    round_ = first.round
    assert round_ is not None and round_.kind is RoundKind.RANDOM
    assert [t.unit_id for t in round_.tasks] == first.unit_ids
    assert {t.inspector_id for t in round_.tasks} <= set(first.inspector_ids)
    assert {u for u in first.inspector_ids} <= {staff[k].id for k in ("fire_a", "fire_b",
                                                                     "fire_c")}


def test_a_seed_is_generated_and_recorded_when_none_is_given(db_session: Session) -> None:
    staff = people(db_session)
    _register(db_session)
    made = _draw(db_session, staff["supervisor"], seed=None)
    assert len(made.seed) == 32
    assert draws.reproduce(made) == (made.unit_ids, made.inspector_ids)


def test_the_weights_shift_the_draw_measurably_over_a_thousand_draws(
        db_session: Session) -> None:
    people(db_session)
    plain = [unit(db_session, f"商店{n}") for n in range(6)]
    workshop = unit(db_session, "作坊", venue="family_workshop")
    risky = unit(db_session, "高风险商店", risk_level="high")
    hazard = unit(db_session, "曾有重大隐患的商店")
    factories.make_case(db_session, unit=hazard, severity=Severity.MAJOR)
    table = draws.weights()
    candidates = draws.weighted_candidates(db_session, factories.township(db_session),
                                           table=table)
    counts: Counter[int] = Counter()
    for n in range(1000):
        counts.update(draws.sample(candidates, 2, random.Random(f"fixed-{n}")))
    plain_mean = sum(counts[u.id] for u in plain) / len(plain)
    # 2 of 9 drawn each time: 222 per unit if all weighed the same. A family workshop
    # (3.0 against 1.5), a high-risk shop and a shop with a past major hazard (×2 each)
    # are drawn far more often than a plain shop; the margins are generous and the seeds
    # fixed, so the test is exact.
    for heavy in (workshop, risky, hazard):
        assert counts[heavy.id] > 1.5 * plain_mean, (counts, plain_mean)
    # With every weight equal the draw is even.
    even: Counter[int] = Counter()
    same = [(key, 1.0) for key, _ in candidates]
    for n in range(1000):
        even.update(draws.sample(same, 2, random.Random(f"fixed-{n}")))
    assert max(even.values()) < 1.3 * min(even.values())


def test_every_draw_is_audited_before_its_round_and_kept_when_redrawn(
        db_session: Session) -> None:
    staff = people(db_session)
    _register(db_session)
    first = _draw(db_session, staff["supervisor"])
    with pytest.raises(InspectionError, match="理由"):
        draws.redraw(db_session, first, reason=" ", actor=staff["supervisor"])
    second = draws.redraw(db_session, first, reason="抽中的场所已停业", actor=staff["supervisor"])
    assert second.id != first.id and second.seed != first.seed
    assert second.scope["redraw_of"] == first.id
    assert {t.status for t in first.round.tasks} == {TaskStatus.CANCELLED}
    listed = draws.draws_for(db_session, staff["supervisor"])
    assert [d.id for d in listed][:2] == [second.id, first.id]
    for made in (first, second):
        row = db_session.scalars(select(AuditLog).where(
            AuditLog.action == "draw.make", AuditLog.object_id == str(made.id))).one()
        assert row.after["seed"] == made.seed and row.after["unit_ids"] == made.unit_ids
        planned = db_session.scalars(select(AuditLog).where(
            AuditLog.action == "round.plan", AuditLog.object_id == str(made.round_id))).one()
        assert row.id < planned.id
    assert db_session.scalars(select(AuditLog).where(
        AuditLog.action == "draw.make", AuditLog.object_id == str(second.id))).one(
    ).after["reason"] == "抽中的场所已停业"


def test_a_draw_asking_for_more_than_there_is_is_refused(db_session: Session) -> None:
    staff = people(db_session)
    _register(db_session)
    with pytest.raises(InspectionError, match="抽取的场所数须在 1 到 9 之间"):
        _draw(db_session, staff["supervisor"], unit_count=10)
    with pytest.raises(InspectionError, match="检查人员数须在 1 到 3 之间"):
        _draw(db_session, staff["supervisor"], inspector_count=4)
    with pytest.raises(InspectionError, match="权限"):
        _draw(db_session, staff["supervisor_b"])


def test_the_draw_screens_record_show_and_redraw(client: FlaskClient,
                                                 db_session: Session) -> None:
    staff = people(db_session)
    _register(db_session)
    db_session.commit()
    sign_in(client, staff["supervisor"])
    response = client.post("/admin/draws/new", data={
        "csrf_token": csrf_token(client, "/admin/draws/new"),
        "township": factories.township(db_session).id,
        "department": factories.department(db_session, "FIRE").id,
        "unit_count": "2", "inspector_count": "1", "seed": "公开种子"})
    assert response.status_code == 303, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "公开种子" in page and "结果一致" in page
    made = db_session.scalars(select(RandomDraw).where(RandomDraw.seed == "公开种子")).one()
    url = f"/admin/draws/{made.id}/redraw"
    token = csrf_token(client, f"/admin/draws/{made.id}")
    refused = client.post(url, data={"csrf_token": token}, follow_redirects=True)
    assert "请填写重新抽取的理由" in refused.get_data(as_text=True)
    again = client.post(url, data={"csrf_token": token, "reason": "检查人员请假"})
    assert again.status_code == 303
    listing = client.get("/admin/draws").get_data(as_text=True)
    assert f"#{made.id}" in listing and f"原 #{made.id}" in listing
    sign_in(client, staff["supervisor_b"])
    assert client.get(f"/admin/draws/{made.id}").status_code == 404
