"""The demo's sample reports and cases: every stage, dated back consistently, marked 示例, once,
and never for a real jurisdiction."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.access import permissions
from portal.domain.administration import samples
from portal.domain.administration import settings as portal_settings
from portal.domain.casework import sla
from portal.domain.clock import local_today, utcnow
from portal.domain.enums import CaseStatus, Role, SupervisionLevel, TipStatus
from portal.domain.models import (
    Case,
    CaseEvent,
    Listing,
    Setting,
    Tip,
    Township,
    Unit,
    UrgingNotice,
    User,
    Village,
)
from portal.domain.reporting import intake
from portal.domain.reporting.identity import IdentityCipher
from portal.domain.vetting import queue
from portal.storage import DirectoryStorage
from tests.conftest import TEST_FIELD_KEY


def seed(app: Flask, session: Session, **kwargs) -> samples.SampleReport:
    return samples.seed_samples(session, cipher=IdentityCipher(TEST_FIELD_KEY),
                                receipt_key=app.config["RECEIPT_KEY"], **kwargs)


def count(session: Session, *where) -> int:
    return session.scalar(select(func.count()).select_from(Case).where(*where)) or 0


def test_every_stage_is_there_dated_back_and_marked(
        app: Flask, db_session: Session, client: FlaskClient, tmp_path) -> None:
    now = utcnow()
    report = seed(app, db_session, now=now, storage=DirectoryStorage(tmp_path))
    assert report.loaded and 30 <= report.tips <= 50 and report.cases >= 20

    by_status = dict(db_session.execute(
        select(Case.status, func.count()).group_by(Case.status)).all())
    assert set(by_status) == set(CaseStatus), "a case at every stage, triage to closed"
    assert by_status == {CaseStatus(s): n for s, n in report.by_status.items()}
    tips = dict(db_session.execute(select(Tip.status, func.count()).group_by(Tip.status)).all())
    assert set(tips) == set(TipStatus), "pending, accepted, rejected and merged tips"

    # Overdue as the domain defines it: late for the check, and late for the rectification.
    assert count(db_session, sla.check_overdue_clause(now)) >= 2
    assert count(db_session, sla.rectification_overdue_clause(local_today(now))) >= 2
    assert count(db_session, sla.overdue_clause(now)) == report.overdue >= 4
    notice = db_session.scalars(select(UrgingNotice)).one()
    assert notice.acknowledged_at is not None and notice.cases
    assert all(sla.is_overdue(c, notice.issued_at) for c in notice.cases)

    # Listed for supervision (挂牌督办), and one delisted once closed.
    listings = db_session.scalars(select(Listing)).all()
    assert [lst for lst in listings if lst.delisted_at is None] and \
        [lst for lst in listings if lst.delisted_at is not None]
    assert report.listed == 1

    # Disclosed ones are on the public page; pending tips wait in the moderation queue.
    disclosed = db_session.scalars(select(Case).where(Case.disclosed)).all()
    assert len(disclosed) == report.disclosed >= 5
    page = client.get("/disclosures").get_data(as_text=True)
    assert all(c.unit.name in page for c in disclosed[:5])
    assert "示例" in client.get("/").get_data(as_text=True)
    waiting = queue.pending_tips(db_session, queue.QueueFilter())
    assert waiting.total == tips[TipStatus.PENDING] >= 3
    assert any(row.replied for row in waiting.items), "a reporter answered a question"

    # Spread over the county: most in 阳高乡, some in each sample township, each township's
    # pending tips in its own moderator's queue and nobody else's.
    cases_in = dict(db_session.execute(
        select(Township.code, func.count()).select_from(Case).join(Village).join(Township)
        .group_by(Township.code)).all())
    assert set(cases_in) == {"yanggao", "beishe", "xigou"}
    assert cases_in["yanggao"] > cases_in["beishe"] + cases_in["xigou"]
    assert cases_in["beishe"] >= 3 and cases_in["xigou"] >= 3
    for code in ("yanggao", "beishe", "xigou"):
        moderator = db_session.scalars(select(User).where(
            User.username == f"sample-moderator-{code}")).one()
        assert moderator.township is not None and moderator.township.code == code
        own = queue.pending_tips(db_session, queue.QueueFilter(),
                                 scope=permissions.tip_scope(moderator))
        assert own.total >= 1
        assert all(row.tip.village.township_id == moderator.township_id
                   for row in own.items)
        supervisor = db_session.scalars(select(User).where(
            User.username == f"sample-supervisor-{code}")).one()
        assert supervisor.role is Role.SUPERVISOR and supervisor.township_id == \
            moderator.township_id
    county = {u.username: u for u in db_session.scalars(select(User).where(
        User.username.in_(["sample-supervisor-county", "sample-admin-county"])))}
    assert {u.role for u in county.values()} == {Role.SUPERVISOR, Role.ADMIN}
    assert all(u.township_id is None for u in county.values())
    # The county's supervisor lists for county supervision; the notice is the township's.
    county_listed = db_session.scalars(select(Listing).where(
        Listing.level == SupervisionLevel.COUNTY)).one()
    assert county_listed.listed_by_id == county["sample-supervisor-county"].id
    assert notice.township is not None and notice.township.code == "yanggao"

    # Every text about a place or from a reporter says it is a sample; nobody is identified.
    for tip in db_session.scalars(select(Tip)):
        assert "示例" in tip.unit_name and "示例" in tip.description
        assert not tip.address or "示例" in tip.address
        assert tip.reporter_name_enc is None and tip.reporter_phone_enc is None
    for unit in db_session.scalars(select(Unit)):
        assert "示例" in unit.name
    assert all("示例" in c.public_summary for c in disclosed)
    staff = db_session.scalars(select(User).where(User.username.startswith("sample-"))).all()
    assert len(staff) == report.users > 5
    assert all(not u.active and "示例" in u.display_name for u in staff)

    # Dated back consistently: each case's timeline runs forward from its report to now.
    for case in db_session.scalars(select(Case)):
        times = [e.created_at for e in db_session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))]
        assert times == sorted(times) and times[0] >= case.created_at and times[-1] <= now
        first_tip = min(t.created_at for t in db_session.scalars(
            select(Tip).where(Tip.case_id == case.id)))
        assert first_tip <= case.created_at < now - dt.timedelta(hours=1)
        if case.closed_at:
            assert case.routed_at is not None and case.routed_at < case.closed_at
    oldest = db_session.scalar(select(func.min(Case.created_at)))
    assert oldest < now - dt.timedelta(days=60)

    # The receipt printed for trying /track finds a sample tip.
    assert report.receipt_code
    tip = intake.find_by_receipt(db_session, report.receipt_code,
                                 receipt_key=app.config["RECEIPT_KEY"])
    assert tip is not None and tip.status is TipStatus.ACCEPTED

    # Once only.
    again = seed(app, db_session)
    assert not again.loaded and "已载入" in again.summary()
    assert db_session.scalar(select(func.count()).select_from(Tip)) == report.tips
    assert count(db_session) == report.cases


def test_a_real_jurisdiction_never_gets_samples(app: Flask, db_session: Session) -> None:
    real = {**portal_settings.jurisdiction(db_session), "sample": False}
    portal_settings.put(db_session, portal_settings.JURISDICTION_KEY, real)
    with pytest.raises(samples.SampleError, match="sample = false"):
        seed(app, db_session)
    assert db_session.scalar(select(func.count()).select_from(Tip)) == 0
    assert not samples.samples_loaded(db_session)


def test_no_jurisdiction_no_samples(app: Flask, db_session: Session) -> None:
    db_session.delete(db_session.get(Setting, portal_settings.JURISDICTION_KEY))
    db_session.flush()
    with pytest.raises(samples.SampleError, match="demo_jurisdiction"):
        seed(app, db_session)


def test_the_demo_shows_inspections_and_the_register_at_work(
        app: Flask, db_session: Session, client: FlaskClient) -> None:
    from portal.domain.models import InspectionRound, RiskWarning, SelfCheck
    from portal.domain.models.inspections import Publication, RoundKind, TaskStatus

    seed(app, db_session)
    db_session.commit()
    rounds = {r.kind: r for r in db_session.scalars(select(InspectionRound))}
    assert set(rounds) == {RoundKind.ROUND, RoundKind.RANDOM}
    assert rounds[RoundKind.ROUND].tasks and all(
        t.status is TaskStatus.OPEN for t in rounds[RoundKind.ROUND].tasks)
    done = [t for t in rounds[RoundKind.RANDOM].tasks if t.status is TaskStatus.DONE]
    assert len(done) == 1 and done[0].publication is Publication.APPROVED
    # What the public sees of it: the random check's result, a unit's commitment, a warning.
    assert "阳高乡靠前驻防消防队" in client.get("/checks").get_data(as_text=True)
    [check] = db_session.scalars(select(SelfCheck)).all()
    unit_page = client.get(f"/disclosures/unit/{check.unit_id}").get_data(as_text=True)
    assert "单位负责人已签署" in unit_page
    [warning] = db_session.scalars(select(RiskWarning)).all()
    assert warning.published_at is not None
    assert "元旦、春节期间消防安全风险提示" in client.get("/warnings").get_data(as_text=True)
