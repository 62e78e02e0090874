"""`flask portal load-samples`: on request, or (`--if-new`, as `make run` calls it) only on a
new demo portal."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.administration import samples
from portal.domain.administration import settings as portal_settings
from portal.domain.models import Case, Tip
from tests import factories


def tips(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Tip)) or 0


def test_load_samples_seeds_a_fresh_demo_once(runner, db_session: Session) -> None:
    result = runner.invoke(args=["portal", "load-samples"])
    assert result.exit_code == 0, result.output
    assert "已载入示例数据" in result.output and "回执码" in result.output
    # Spread over the demo county: most in 阳高乡, some in each sample township.
    assert all(place in result.output for place in ("阳高乡", "北社乡（示例）", "西沟乡（示例）"))
    seeded = tips(db_session)
    assert seeded > 30 and db_session.scalar(select(func.count()).select_from(Case)) > 20
    assert samples.samples_loaded(db_session)

    again = runner.invoke(args=["portal", "load-samples"])
    assert again.exit_code == 0 and "此前已载入" in again.output
    quiet = runner.invoke(args=["portal", "load-samples", "--if-new"])
    assert quiet.exit_code == 0 and quiet.output == ""
    assert tips(db_session) == seeded


def test_make_runs_first_start_gets_samples(runner, db_session: Session) -> None:
    result = runner.invoke(args=["portal", "load-samples", "--if-new"])
    assert result.exit_code == 0, result.output
    assert "已载入示例数据" in result.output and tips(db_session) > 30


def test_if_new_leaves_a_portal_with_tips_alone(runner, db_session: Session) -> None:
    factories.make_tip(db_session)
    result = runner.invoke(args=["portal", "load-samples", "--if-new"])
    assert result.exit_code == 0 and result.output == ""
    assert tips(db_session) == 1 and not samples.samples_loaded(db_session)


def test_a_real_jurisdiction_is_refused(runner, db_session: Session) -> None:
    real = {**portal_settings.jurisdiction(db_session), "sample": False}
    portal_settings.put(db_session, portal_settings.JURISDICTION_KEY, real)
    refused = runner.invoke(args=["portal", "load-samples"])
    assert refused.exit_code == 1 and "sample = false" in refused.output
    assert "不会载入示例数据" in refused.output
    quiet = runner.invoke(args=["portal", "load-samples", "--if-new"])
    assert quiet.exit_code == 0 and quiet.output == ""
    assert tips(db_session) == 0
