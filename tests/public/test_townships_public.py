"""The public site of a county of townships (issue 18): the county's pages at ``/`` and each
township's at ``/t/<code>/``, every list and figure narrowed to the township's villages."""

from __future__ import annotations

import datetime as dt
import json
import re

from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from portal.domain.access import permissions
from portal.domain.clock import utcnow
from portal.domain.enums import Role
from portal.domain.models import Bulletin, Tip, User
from tests import factories
from tests.conftest import csrf_token
from tests.public.test_disclosures import disclosed, listed, moderator


def _html(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_a_township_has_its_own_address_and_an_unknown_one_is_404(client) -> None:
    assert "平顺县阳高乡" in _html(client, "/t/yanggao/")
    for url in ("/t/nowhere/", "/t/nowhere/disclosures", "/t/nowhere/report"):
        assert client.get(url).status_code == 404, url


def test_links_on_a_townships_pages_stay_in_it_and_lead_back_to_the_county(client) -> None:
    html = _html(client, "/t/beishe/disclosures")
    for path in ("/t/beishe/report", "/t/beishe/disclosures", "/t/beishe/stats",
                 "/t/beishe/bulletins"):
        assert f'href="{path}"' in html, path
    assert 'href="/">全县</a>' in html
    county = _html(client, "/disclosures")
    assert 'href="/report"' in county and "/t/" not in county.split("<main")[0]


def test_the_county_home_lists_its_townships_with_their_figures(
        client, db_session: Session) -> None:
    mod = moderator(db_session)
    disclosed(db_session, "北社加工厂", actor=mod, village_code="BS-V01")
    disclosed(db_session, "北社饭店", actor=mod, village_code="BS-V02",
              rectify_by=dt.date(2020, 1, 1))
    html = _html(client, "/")
    assert "<title>平顺县消防隐患举报与公示平台</title>" in html
    rows = dict(re.findall(r'<th scope="row"><a href="(/t/\w+/)">[^<]+</a></th>\s*'
                           r'((?:<td>[^<]*</td>\s*){4})', html))
    assert set(rows) == {"/t/yanggao/", "/t/beishe/", "/t/xigou/"}
    figures = {link: re.findall(r"<td>([^<]*)</td>", cells) for link, cells in rows.items()}
    # disclosed, open hazards, rectification rate, overdue
    assert figures["/t/beishe/"] == ["2", "2", "0.0%", "1"]
    assert figures["/t/yanggao/"] == ["0", "0", "—", "0"]
    assert "阳高乡" in html and "北社乡（示例）" in html and "西沟乡（示例）" in html


def test_a_townships_pages_show_only_its_villages_disclosures(
        client, db_session: Session) -> None:
    mod = moderator(db_session)
    yanggao = disclosed(db_session, "阳高小卖部", actor=mod)
    beishe = disclosed(db_session, "北社超市", actor=mod, village_code="BS-V02")
    assert sorted(listed(client)) == ["北社超市", "阳高小卖部"]
    assert listed(client, "") and "北社超市" not in _html(client, "/t/yanggao/disclosures")
    assert "北社超市" in _html(client, "/t/beishe/disclosures")
    assert "阳高小卖部" not in _html(client, "/t/beishe/disclosures")
    assert "北社超市" not in _html(client, "/t/yanggao/disclosures?q=超市")
    assert "北社超市" in _html(client, "/t/beishe/disclosures?q=超市")
    # A unit page answers only under its own township (and the county's).
    assert client.get(f"/t/beishe/disclosures/unit/{beishe.unit_id}").status_code == 200
    assert client.get(f"/t/beishe/disclosures/unit/{yanggao.unit_id}").status_code == 404
    assert client.get(f"/disclosures/unit/{yanggao.unit_id}").status_code == 200
    # The home page's latest disclosures too.
    assert "北社超市" in _html(client, "/t/beishe/") and "阳高小卖部" not in _html(
        client, "/t/beishe/")


def test_the_village_filter_names_each_village_with_its_township_county_wide(client) -> None:
    county = _html(client, "/disclosures")
    assert "东庄村（示例）（阳高乡）" in county and "东庄村（示例）（北社乡（示例））" in county
    township = _html(client, "/t/beishe/disclosures")
    assert ">东庄村（示例）</option>" in township and "阳高乡" not in township.split(
        'id="village"')[1].split("</select>")[0]


def test_a_townships_open_data_feed_and_notices_are_its_own(
        client, db_session: Session) -> None:
    mod = moderator(db_session)
    disclosed(db_session, "阳高小卖部", actor=mod)
    disclosed(db_session, "北社超市", actor=mod, village_code="BS-V02")
    data = json.loads(_html(client, "/t/beishe/disclosures.json"))
    assert [r["unit_name"] for r in data["cases"]] == ["北社超市"]
    assert data["title"] == "平顺县北社乡（示例）火灾隐患公示"
    csv = _html(client, "/t/beishe/disclosures.csv")
    assert "北社超市" in csv and "阳高小卖部" not in csv
    county_csv = _html(client, "/disclosures.csv")
    assert "北社超市" in county_csv and "阳高小卖部" in county_csv
    feed = _html(client, "/t/yanggao/disclosures/feed.atom")
    assert "阳高小卖部" in feed and "北社超市" not in feed and "平顺县阳高乡火灾隐患公示" in feed
    notices = _html(client, "/t/beishe/disclosures/notices")
    assert "BS-V02" in notices and "/disclosures/notice/V01" not in notices
    assert client.get("/t/beishe/disclosures/notice/BS-V02").status_code == 200
    assert client.get("/t/beishe/disclosures/notice/V01").status_code == 404


def test_a_townships_statistics_count_only_its_villages(client, db_session: Session) -> None:
    mod = moderator(db_session)
    disclosed(db_session, "阳高小卖部", actor=mod)
    disclosed(db_session, "北社超市", actor=mod, village_code="BS-V02")
    disclosed(db_session, "北社饭店", actor=mod, village_code="BS-V01")

    def confirmed(url: str) -> str:
        html = _html(client, url)
        return dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", html))["核查属实隐患"]

    assert confirmed("/stats") == "3"
    assert confirmed("/t/beishe/stats") == "2"
    assert confirmed("/t/yanggao/stats") == "1" and confirmed("/t/xigou/stats") == "0"
    assert "平顺县北社乡（示例）消防隐患治理统计" in _html(client, "/t/beishe/stats")
    assert confirmed("/t/beishe/") == "2"


def test_a_townships_bulletins_are_shown_with_the_countys(client, db_session: Session) -> None:
    author = moderator(db_session)
    common = {"period_start": dt.date(2026, 1, 1), "period_end": dt.date(2026, 1, 31),
              "text": "正文", "figures": {}, "created_by_id": author.id, "published_at": utcnow()}
    county = Bulletin(title="全县一月通报", **common)
    beishe = Bulletin(title="北社乡一月通报", township_id=factories.township(
        db_session, "beishe").id, **common)
    db_session.add_all([county, beishe])
    db_session.flush()
    assert "全县一月通报" in (page := _html(client, "/t/beishe/bulletins"))
    assert "北社乡一月通报" in page
    assert "北社乡一月通报" not in _html(client, "/t/yanggao/bulletins")
    assert "北社乡一月通报" not in _html(client, "/bulletins")
    assert "北社乡一月通报" in _html(client, "/t/beishe/")
    assert client.get(f"/t/beishe/bulletins/{beishe.id}").status_code == 200
    assert client.get(f"/t/yanggao/bulletins/{beishe.id}").status_code == 404
    assert client.get(f"/t/yanggao/bulletins/{county.id}").status_code == 200


# ------------------------------------------------------------------ the report form


def _report(client: FlaskClient, session: Session, url: str, village: str):
    page = client.get(url).get_data(as_text=True)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page).group(1)
    return client.post(url, data={
        "csrf_token": csrf_token(client, url), "submission_key": key,
        "village": str(factories.village(session, village).id), "unit_name": "北社粮油店",
        "category": str(factories.category(session, "blocked_escape").id),
        "description": "店后门被货物堵死，安全出口上了锁。", "website": "",
    }, content_type="multipart/form-data")


def test_the_county_form_names_every_village_with_its_township(client) -> None:
    county = _html(client, "/report")
    assert ">东庄村（示例）（阳高乡）</option>" in county
    assert ">东庄村（示例）（北社乡（示例））</option>" in county
    beishe = _html(client, "/t/beishe/report")
    choices = re.findall(r"<option value=\"\d+\"[^>]*>([^<]+)</option>",
                         beishe.split('name="village"')[1].split("</select>")[0])
    assert len(choices) == 3 and "东庄村（示例）" in choices
    assert 'src="/static/js/report.js"' in beishe  # the type-to-search filter


def test_a_tip_on_the_county_form_lands_in_its_villages_township(
        client, db_session: Session) -> None:
    response = _report(client, db_session, "/report", "BS-V01")
    assert response.status_code == 200
    assert "北社乡消防安全委员会办公室（示例）审核您的举报" in response.get_data(as_text=True)
    beishe = User(username="mod-bs", password_hash="x", role=Role.MODERATOR,
                  township_id=factories.township(db_session, "beishe").id)
    yanggao = User(username="mod-yg", password_hash="x", role=Role.MODERATOR,
                   township_id=factories.township(db_session, "yanggao").id)

    def seen_by(user: User) -> list[str]:
        return list(db_session.scalars(select(Tip.unit_name).where(permissions.tip_scope(user))))

    assert seen_by(beishe) == ["北社粮油店"]
    assert seen_by(yanggao) == []


def test_a_townships_form_takes_only_its_own_villages(client, db_session: Session) -> None:
    response = _report(client, db_session, "/t/yanggao/report", "BS-V01")
    assert response.status_code == 422
    assert "所选的村不属于本乡镇" in response.get_data(as_text=True)
    assert db_session.scalar(select(Tip.id).where(Tip.unit_name == "北社粮油店")) is None
    accepted = _report(client, db_session, "/t/beishe/report", "BS-V01")
    assert accepted.status_code == 200 and "查询码" in accepted.get_data(as_text=True)


def test_a_new_report_in_one_township_keeps_the_others_pages_cached(
        client, db_session: Session) -> None:
    urls = ("/t/yanggao/", "/t/yanggao/stats", "/t/beishe/", "/", "/t/yanggao/disclosures",
            "/disclosures", "/t/beishe/disclosures")
    etags = {url: client.get(url).headers["ETag"] for url in urls}
    assert _report(client, db_session, "/report", "BS-V01").status_code == 200

    def status(url: str) -> int:
        return client.get(url, headers={"If-None-Match": etags[url]}).status_code

    # Another township's pages, and pages that show no tip figures, are still the same.
    assert status("/t/yanggao/") == 304 and status("/t/yanggao/stats") == 304
    assert status("/t/yanggao/disclosures") == 304 and status("/disclosures") == 304
    assert status("/t/beishe/disclosures") == 304
    # The report's township and the county count it.
    assert status("/t/beishe/") == 200 and status("/") == 200
    assert dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", _html(
        client, "/t/beishe/")))["收到举报"] == "1"


def test_county_wide_pages_name_each_villages_township(client, db_session: Session) -> None:
    mod = moderator(db_session)
    yanggao = disclosed(db_session, "东庄阳高店", actor=mod, village_code="V02")
    disclosed(db_session, "东庄北社店", actor=mod, village_code="BS-V02")
    county = _html(client, "/disclosures")

    def place_of(unit_name: str) -> str:
        return re.search(unit_name + r'</a>.*?class="disclosure-meta">([^<·]+)', county,
                         re.S).group(1).strip()

    assert place_of("东庄阳高店") == "东庄村（示例）（阳高乡）"
    assert place_of("东庄北社店") == "东庄村（示例）（北社乡（示例））"
    unit = _html(client, f"/disclosures/unit/{yanggao.unit_id}")
    assert "<dd>东庄村（示例）（阳高乡）</dd>" in unit
    assert "<dd>东庄村（示例）</dd>" in _html(
        client, f"/t/yanggao/disclosures/unit/{yanggao.unit_id}")
    assert "东庄村（示例）</a>（北社乡（示例））" in _html(client, "/disclosures/notices")
    # A village's printed notice leads (by its QR code) to its own township's pages.
    assert "http://localhost/t/beishe/disclosures?village=" in _html(
        client, "/disclosures/notice/BS-V02")


def test_a_townships_cache_version_reads_its_villages_newest_tips_on_an_index(
        app, client, db_session: Session) -> None:
    """The version lookup runs on every request to a township's pages; it must not walk the
    tips' primary key back past the other townships' newer tips (45 ms at a county's size)."""
    from sqlalchemy import text

    from portal.db import database
    from portal.web.caching import read_data_version

    yanggao, beishe = factories.township(db_session), factories.township(db_session, "beishe")
    older = factories.make_tip(db_session, village=factories.village(db_session, "V02"))
    factories.make_tip(db_session, village=factories.village(db_session, "BS-V01"))
    db_session.flush()
    seen: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many) -> None:
        seen.append((statement, parameters))

    engine = database(app).engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        with app.test_request_context():
            (_, _, newest), _when = read_data_version(yanggao.id)
            (_, _, newest_beishe), _when = read_data_version(beishe.id)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert newest == older.id < newest_beishe, "each township's own newest tip"

    statement, parameters = next((s, p) for s, p in seen if "tips" in s)
    sqlite = db_session.bind.dialect.name == "sqlite"
    if not sqlite:  # on a small table PostgreSQL would rightly scan; the index must be there
        db_session.execute(text("SET LOCAL enable_seqscan = off"))
    raw = db_session.connection().connection.dbapi_connection.cursor()
    raw.execute(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters)
    plan = " | ".join(str(row[-1]) for row in raw.fetchall())
    assert "ix_tips_village_id_id" in plan, plan
    if sqlite:
        assert "SCAN tips" not in plan, plan
    else:  # the newest tip's time is read by its id; never a walk back along the ids
        assert "Backward using pk_tips" not in plan and "Seq Scan on tips" not in plan, plan
