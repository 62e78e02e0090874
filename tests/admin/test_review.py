"""The review page: the hand-computed March in a table and bar charts."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from tests import factories
from tests.domain.test_review import march  # noqa: F401  (the fixture)


@pytest.fixture
def committed_march(db_session, march):  # noqa: F811
    db_session.commit()


def test_the_review_table_and_charts_show_the_percentages(client: FlaskClient, as_role,
                                                          db_session,
                                                          committed_march) -> None:
    as_role("supervisor")
    fire = re.escape(factories.department(db_session, "FIRE").name)
    page = client.get("/admin/review?start=2026-03-01&end=2026-03-31").get_data(as_text=True)
    fire_row = re.search(rf"<tr><td>{fire}</td>(.*?)</tr>", page, re.S)
    assert fire_row, page
    cells = re.findall(r"<td>(.*?)</td>", fire_row.group(1), re.S)
    assert cells[0] == "5" and cells[1] == "2"
    assert cells[2].startswith("50.0%") and "（2/4）" in cells[2]
    assert cells[3].startswith("66.7%") and "（2/3）" in cells[3]
    assert cells[4] == "—"  # no later legal limit fell due in March
    assert cells[5].startswith("16.5 天")
    assert cells[6:] == ["1", "2", "—", "—"]  # no rating in March
    assert page.count('<svg class="chart hbar"') == 3
    assert re.search(r'<rect x="150" y="\d+" width="150.0" height="18" class="bar low">'
                     rf"<title>{fire}：50.0%</title>", page)


def test_reversed_dates_are_swapped_not_refused(client: FlaskClient, as_role) -> None:
    as_role("admin")
    page = client.get("/admin/review?start=2026-03-31&end=2026-03-01").get_data(as_text=True)
    assert "已对调" in page and 'value="2026-03-01"' in page


@pytest.mark.parametrize("role", ["officer", "moderator"])
def test_only_supervisors_and_admins_reach_the_review(client: FlaskClient, as_role,
                                                      role: str) -> None:
    as_role(role)
    assert client.get("/admin/review").status_code == 403
