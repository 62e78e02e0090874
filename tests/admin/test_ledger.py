"""The supervisor's dashboard and ledger over HTTP: every figure is the ledger behind its link,
and the exports hold exactly the ledger's rows."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from portal.domain.supervision import ledger
from tests.domain.supervision_helpers import seed_ledger

FIGURE = re.compile(r'<a href="(/admin/ledger[^"]*)"[^>]*>\s*(?:<strong>)?(\d+)')
TOTAL = re.compile(r"<h1>隐患台账 <small>共 (\d+) 件</small></h1>")


@pytest.fixture
def seeded(db_session: Session):
    cases = seed_ledger(db_session)
    db_session.commit()
    return cases


def ledger_total(client: FlaskClient, url: str) -> int:
    page = client.get(url)
    assert page.status_code == 200, url
    match = TOTAL.search(page.get_data(as_text=True))
    assert match, url
    return int(match.group(1))


def test_every_dashboard_figure_is_the_count_of_the_ledger_it_links_to(
        client: FlaskClient, as_role, seeded) -> None:
    as_role("supervisor")
    page = client.get("/admin/supervision").get_data(as_text=True)
    figures = [(html.unescape(url), int(value)) for url, value in FIGURE.findall(page)]
    # headline tiles, stages, the goals panel, and the department and village tables
    assert len(figures) >= 7 + 5 + 3 + 4
    assert any(value > 0 for _, value in figures)
    for url, value in figures:
        assert ledger_total(client, url) == value, url


def test_dashboard_headline_figures_on_the_seeded_township(client: FlaskClient, as_role,
                                                           seeded) -> None:
    as_role("supervisor")
    page = client.get("/admin/supervision").get_data(as_text=True)
    tiles = re.findall(r"<strong>(\d+)</strong><span>([^<]+)</span>", page)[:7]
    assert {label: int(n) for n, label in tiles} == {
        "未办结隐患": 9, "核查超期": 2, "整改超期": 1, "文书、复查或报告超期": 0, "7 日内到期": 2,
        "未销案重大隐患": 2, "挂牌督办": 3,
    }


def test_a_ledger_page_lists_its_cases_and_paginates(client: FlaskClient, as_role,
                                                     seeded) -> None:
    as_role("admin")
    page = client.get("/admin/ledger?overdue=rectify").get_data(as_text=True)
    assert "共 1 件" in page
    assert seeded["rectify_late"].unit.name in page
    assert f'href="/admin/cases/{seeded["rectify_late"].id}"' in page
    assert client.get("/admin/ledger?page=999").status_code == 200


def test_the_csv_export_has_a_bom_chinese_headers_and_the_ledgers_rows(
        client: FlaskClient, as_role, seeded) -> None:
    as_role("supervisor")
    for query, expected in (("", 11), ("?open=1", 9), ("?overdue=any", 3)):
        response = client.get(f"/admin/ledger.csv{query}")
        assert response.status_code == 200
        assert response.is_streamed
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        body = response.get_data()
        assert body.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert tuple(rows[0]) == ledger.EXPORT_HEADERS
        assert len(rows) - 1 == expected == ledger_total(client, f"/admin/ledger{query}")


def test_the_xlsx_export_reads_back_with_openpyxl(client: FlaskClient, as_role,
                                                   seeded) -> None:
    as_role("supervisor")
    response = client.get("/admin/ledger.xlsx?open=1&sort=created&dir=asc")
    assert response.status_code == 200
    assert response.is_streamed
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True)["隐患台账"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ledger.EXPORT_HEADERS
    assert len(rows) - 1 == 9
    # Oldest first: the two cases found in 2023 lead.
    assert {rows[1][0], rows[2][0]} >= {seeded["open_major_old"].id}


@pytest.mark.parametrize("role", ["officer", "moderator"])
def test_officers_and_moderators_cannot_reach_the_ledger(client: FlaskClient, as_role,
                                                         role: str) -> None:
    as_role(role)
    for url in ("/admin/supervision", "/admin/ledger", "/admin/ledger.csv",
                "/admin/ledger.xlsx", "/admin/supervision/goals"):
        assert client.get(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_the_login(client: FlaskClient) -> None:
    response = client.get("/admin/ledger.csv")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")


def test_the_goals_page_figures_and_bars_link_to_their_ledger(client: FlaskClient, as_role,
                                                               seeded) -> None:
    as_role("admin")
    page = client.get("/admin/supervision/goals").get_data(as_text=True)
    assert "2023年底前发现、仍未整改销案的重大火灾隐患" in page
    assert page.count('class="bar') == 13
    figures = [(html.unescape(url), int(value)) for url, value in FIGURE.findall(page)]
    assert len(figures) >= 4 + 13
    for url, value in figures:
        assert ledger_total(client, url) == value, url


def test_the_overview_lists_the_most_overdue_villages_and_links_to_all_of_them(
        client: FlaskClient, as_role, db_session: Session) -> None:
    """A city has hundreds of villages: the overview shows the ten with the most overdue
    cases, and a page of its own lists every one, each figure the ledger behind its link."""
    import datetime as dt

    from portal.domain.clock import utcnow
    from portal.domain.models import Village
    from tests import factories

    now = utcnow()
    villages = [Village(code=f"TV{i:02d}", name=f"测试村{i:02d}", sort_order=100 + i,
                        township=factories.township(db_session))
                for i in range(13)]
    db_session.add_all(villages)
    db_session.flush()
    for i, village in enumerate(villages):
        for n in range(i + 1):  # village i has i + 1 open cases, the first `i` of them late
            late = n < i
            factories.make_case(db_session, village=village, status="routed", routed_at=now,
                                check_by=now + dt.timedelta(hours=-1 if late else 5))
    db_session.commit()
    as_role("supervisor")
    page = client.get("/admin/supervision").get_data(as_text=True)
    shown = re.findall(r"<td>(测试村\d\d)</td>", page)
    assert shown == [f"测试村{i:02d}" for i in range(12, 2, -1)], "most overdue first, ten"
    assert "查看全部 13 个行政村" in page
    full = client.get("/admin/supervision/villages").get_data(as_text=True)
    assert re.findall(r"<td>(测试村\d\d)</td>", full) == [f"测试村{i:02d}"
                                                       for i in range(12, -1, -1)]
    for url, value in [(html.unescape(u), int(v)) for u, v in FIGURE.findall(full)][:6]:
        assert ledger_total(client, url) == value, url


def test_the_filter_choices_are_read_once_per_audited_change(
        app, client: FlaskClient, as_role, db_session: Session, seeded) -> None:
    """The ledger's filter form (villages, departments, categories, venue types) is read once
    per process for each newest audit row, as the public filters are, and a change shows."""
    import time

    from sqlalchemy import event

    from portal.db import database
    from portal.domain.administration import vocabulary
    from portal.web.caching import forget_versions
    from tests import factories

    as_role("supervisor")
    app.config["PUBLIC_CACHE_SECONDS"] = 0.5
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(" ".join(statement.split()))

    engine = database(app).engine
    try:
        client.get("/admin/ledger")
        event.listen(engine, "before_cursor_execute", record)
        try:
            assert client.get("/admin/ledger").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert not [s for s in seen if "FROM categories" in s or "FROM venue_types" in s], \
            "the choices are kept"
        township = factories.village(db_session, "V01").township
        vocabulary.save_coded(db_session, "village", None, code="NEWV", actor=None,
                              name="新设村", township_id=township.id, active=True, sort_order=99)
        db_session.commit()
        time.sleep(0.6)  # the data version's own lag
        assert "新设村" in client.get("/admin/ledger").get_data(as_text=True)
    finally:
        app.config["PUBLIC_CACHE_SECONDS"] = 0
        forget_versions()


ROW = re.compile(r'<tr class="(overdue)?">\s*(.*?)</tr>', re.S)
CELL = re.compile(r"<td>(.*?)</td>", re.S)


def test_every_line_of_a_ledger_page_is_its_line_in_the_export(
        client: FlaskClient, as_role, seeded) -> None:
    """The page and the export read one row rule: the names, the lead department and the
    overdue mark a supervisor sees are what the exported sheet says."""
    as_role("supervisor")
    for query in ("", "?open=1", "?overdue=any"):
        body = client.get(f"/admin/ledger.csv{query}").get_data().decode("utf-8-sig")
        exported = {int(row[0]): row for row in list(csv.reader(io.StringIO(body)))[1:]}
        page = client.get(f"/admin/ledger{query}").get_data(as_text=True)
        shown = {}
        for late, cells in ROW.findall(page):
            values = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                      for c in CELL.findall(cells)]
            shown[int(values[0])] = (bool(late), values)
        assert shown.keys() == exported.keys() and shown, query
        for case_id, (late, values) in shown.items():
            row = exported[case_id]
            assert late == (row[13] == "是"), case_id
            # unit, village, venue type, category, severity, lead department
            assert values[1:6] == row[1:6] and values[8] == row[8], case_id
            assert values[6] == row[6] + (" 超期" if late else ""), case_id
    assert any(row[8] for row in exported.values())  # some case has a lead department
