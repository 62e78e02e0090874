from __future__ import annotations

import datetime as dt
import re

from sqlalchemy.orm import Session

from portal.domain.casework.events import log_event
from portal.domain.clock import utcnow
from portal.domain.disclosure.publication import disclose_case, withdraw_disclosure
from portal.domain.enums import (
    AttachmentKind,
    CaseEventKind,
    CaseOutcome,
    CaseStatus,
    Role,
    Severity,
    SupervisionLevel,
)
from portal.domain.models import Attachment, Case, Unit, User
from portal.domain.vetting.duplicates import normalize_name
from tests.factories import category, make_case, venue_type, village

FUTURE = dt.date.today() + dt.timedelta(days=30)
PAST = dt.date.today() - dt.timedelta(days=30)


def moderator(session: Session) -> User:
    user = User(username="pub-mod", password_hash="x", role=Role.MODERATOR)
    session.add(user)
    session.flush()
    return user


def unit(session: Session, name: str, village_code: str = "V01",
         venue: str | None = "street_shop") -> Unit:
    row = Unit(name=name, normalized_name=normalize_name(name),
               village=village(session, village_code),
               venue_type=venue_type(session, venue) if venue else None, address="村东口张家院内")
    session.add(row)
    session.flush()
    return row


def confirmed(session: Session, where: Unit, **values) -> Case:
    now = utcnow()
    defaults = {"status": CaseStatus.RECTIFYING, "routed_at": now, "confirmed_at": now,
                "rectify_by": FUTURE}
    if values.get("status") == CaseStatus.CLOSED:
        defaults |= {"closed_at": now, "outcome": CaseOutcome.RECTIFIED}
    return make_case(session, unit=where, village=where.village, **{**defaults, **values})


def disclosed(session: Session, name: str, *, summary: str = "疏散通道堆放杂物", actor=None,
              village_code: str = "V01", venue: str | None = "street_shop", **values) -> Case:
    case = confirmed(session, unit(session, name, village_code, venue), **values)
    disclose_case(session, case, actor=actor or moderator(session), public_summary=summary)
    return case


def listed(client, query: str = "") -> list[str]:
    html = client.get(f"/disclosures{query}").get_data(as_text=True)
    return re.findall(r'class="disclosure-unit">\s*<a href="[^"]+">([^<]+)</a>', html)


def public_bodies(client, case: Case) -> dict[str, str]:
    urls = ["/", "/disclosures", f"/disclosures/unit/{case.unit_id}", "/disclosures.json",
            "/disclosures.csv", "/disclosures/feed.atom", "/disclosures/notice/V01", "/stats"]
    return {url: client.get(url).get_data(as_text=True) for url in urls}


def test_only_confirmed_and_disclosed_cases_are_public(client, db_session: Session) -> None:
    mod = moderator(db_session)
    unconfirmed = make_case(db_session, status=CaseStatus.CHECKING, routed_at=utcnow(),
                            unit=unit(db_session, "未核查小卖部"), public_summary="传闻")
    hidden = confirmed(db_session, unit(db_session, "已核查未公开饭店"), public_summary="待审")
    shown = disclosed(db_session, "已公示加工厂", actor=mod)
    for url, body in public_bodies(client, shown).items():
        assert "未核查小卖部" not in body, url
        assert "已核查未公开饭店" not in body, url
    assert "已公示加工厂" in client.get("/disclosures").get_data(as_text=True)
    assert client.get(f"/disclosures/unit/{unconfirmed.unit_id}").status_code == 404
    assert client.get(f"/disclosures/unit/{hidden.unit_id}").status_code == 404


def test_withdrawing_removes_the_case_everywhere(client, db_session: Session) -> None:
    mod = moderator(db_session)
    case = disclosed(db_session, "撤回测试商店", actor=mod)
    before = public_bodies(client, case)
    for url in ("/", "/disclosures", "/disclosures.json", "/disclosures.csv",
                "/disclosures/feed.atom", "/disclosures/notice/V01"):
        assert "撤回测试商店" in before[url], url
    withdraw_disclosure(db_session, case, actor=mod, reason="单位名称登记错误")
    for url, body in public_bodies(client, case).items():
        assert "撤回测试商店" not in body, url
    assert client.get(f"/disclosures/unit/{case.unit_id}").status_code == 404


def test_filters_search_and_supervision_return_exactly_the_expected_units(
    client, db_session: Session,
) -> None:
    mod = moderator(db_session)
    disclosed(db_session, "甲饭店", actor=mod, village_code="V01", venue="restaurant",
              category=category(db_session, "fire_electric_gas_misuse"))
    disclosed(db_session, "乙商铺", actor=mod, village_code="V02", venue="street_shop",
              severity=Severity.MAJOR, supervision_level=SupervisionLevel.COUNTY)
    disclosed(db_session, "丙幼儿园", actor=mod, village_code="V02", venue="kindergarten",
              status=CaseStatus.RECTIFIED, rectified_at=utcnow())
    disclosed(db_session, "丁饭店", actor=mod, village_code="V03", venue="restaurant",
              status=CaseStatus.CLOSED, rectified_at=utcnow())
    v02 = village(db_session, "V02").id
    restaurant = venue_type(db_session, "restaurant").id
    gas = category(db_session, "fire_electric_gas_misuse").id
    assert sorted(listed(client)) == sorted(["甲饭店", "乙商铺", "丙幼儿园", "丁饭店"])
    assert sorted(listed(client, f"?village={v02}")) == ["丙幼儿园", "乙商铺"]
    assert sorted(listed(client, f"?venue_type={restaurant}")) == ["丁饭店", "甲饭店"]
    assert listed(client, f"?category={gas}") == ["甲饭店"]
    assert listed(client, "?status=rectified") == ["丙幼儿园"]
    assert listed(client, "?status=closed") == ["丁饭店"]
    assert listed(client, "?severity=major") == ["乙商铺"]
    assert listed(client, "?supervised=1") == ["乙商铺"]
    assert sorted(listed(client, "?q=饭店")) == ["丁饭店", "甲饭店"]
    assert listed(client, f"?q=饭店&village={v02}") == []
    assert listed(client, "?q=%25") == [], "LIKE wildcards are searched for literally"
    assert listed(client, "?q=%E4%B9%99%20%E5%95%86") == ["乙商铺"], "spaces do not matter"
    assert sorted(listed(client, "?village=abc&status=bogus")) == sorted(
        ["甲饭店", "乙商铺", "丙幼儿园", "丁饭店"]), "bad filter values are ignored"


def test_pagination_walks_every_disclosure_once(client, db_session: Session) -> None:
    mod = moderator(db_session)
    names = [f"分页单位{i:02d}" for i in range(23)]
    for name in names:
        disclosed(db_session, name, actor=mod)
    first, second = listed(client, "?page=1"), listed(client, "?page=2")
    assert len(first) == 20 and len(second) == 3
    assert sorted(first + second) == sorted(names)
    page = client.get("/disclosures?page=1&village=" + str(village(db_session).id))
    html = page.get_data(as_text=True)
    assert "共 23 条公示" in html and "page=2" in html and "village=" in html
    assert listed(client, "?page=99") == second, "a page past the end shows the last page"


def test_a_row_shows_status_deadline_overdue_and_progress(client, db_session: Session) -> None:
    mod = moderator(db_session)
    disclosed(db_session, "逾期商店", actor=mod, rectify_by=PAST, summary="私拉电线")
    html = client.get("/disclosures").get_data(as_text=True)
    assert "逾期商店" in html and "私拉电线" in html and "阳高村（示例）" in html
    assert "整改中" in html and "已逾期" in html
    assert f"{PAST.year}年{PAST.month}月{PAST.day}日" in html
    assert 'aria-current="step"' in html and "整改进度：第 3 步" in html


CARD = re.compile(r'<article class="disclosure[^"]*">.*?</article>', re.S)


def test_every_card_shows_its_own_badges_and_deadline(client, db_session: Session) -> None:
    """Badges and deadlines are drawn once per value and reused: each card still shows its
    case's own, and a card's link leads to its own unit."""
    mod = moderator(db_session)
    soon = dt.date(2030, 5, 6)
    disclosed(db_session, "徽章甲", actor=mod, rectify_by=PAST, severity=Severity.MAJOR,
              supervision_level=SupervisionLevel.COUNTY)
    second = disclosed(db_session, "徽章乙", actor=mod, rectify_by=soon)
    disclosed(db_session, "徽章丙", actor=mod, rectify_by=None, status=CaseStatus.CLOSED)
    html = client.get("/disclosures").get_data(as_text=True)
    cards = {re.search(r"徽章.", card).group(0): card for card in CARD.findall(html)}
    first_card, second_card, third_card = cards["徽章甲"], cards["徽章乙"], cards["徽章丙"]
    for badge in ("已逾期", "重大隐患", SupervisionLevel.COUNTY.label):
        assert badge in first_card and badge not in second_card + third_card, badge
    assert f"{PAST.year}年{PAST.month}月{PAST.day}日" in first_card
    assert "2030年5月6日" in second_card and "2030年5月6日" not in first_card
    assert "整改期限：待定" in third_card and f"status-{CaseStatus.CLOSED.value}" in third_card
    assert f'href="/disclosures/unit/{second.unit_id}"' in second_card


def test_the_unit_page_shows_each_case_its_public_timeline_and_photos(
    client, db_session: Session,
) -> None:
    mod = moderator(db_session)
    case = disclosed(db_session, "时间线饭店", actor=mod, summary="厨房燃气管道老化",
                     severity=Severity.MAJOR, supervision_level=SupervisionLevel.TOWNSHIP)
    progress = log_event(db_session, case, CaseEventKind.PROGRESS, actor=mod,
                         public_text="已更换燃气软管", internal_text="老板不太配合")
    shown = Attachment(stored_name="a" * 32, kind=AttachmentKind.PHOTO, content_type="image/jpeg",
                       size_bytes=1, sha256="1" * 64, public=True, case_event_id=progress.id)
    private = Attachment(stored_name="b" * 32, kind=AttachmentKind.PHOTO,
                         content_type="image/jpeg", size_bytes=1, sha256="2" * 64,
                         public=False, case_event_id=progress.id)
    withheld = Attachment(stored_name="c" * 32, kind=AttachmentKind.PHOTO,
                          content_type="image/jpeg", size_bytes=1, sha256="3" * 64,
                          public=True, withheld=True, case_event_id=progress.id)
    db_session.add_all([shown, private, withheld])
    db_session.flush()
    html = client.get(f"/disclosures/unit/{case.unit_id}").get_data(as_text=True)
    assert "时间线饭店" in html and "厨房燃气管道老化" in html
    assert "重大隐患" in html and "乡级挂牌督办" in html
    assert "已更换燃气软管" in html and "老板不太配合" not in html
    assert "经部门核查属实，向社会公示" in html
    assert f"/media/{'a' * 32}" in html
    assert "b" * 32 not in html and "c" * 32 not in html
    assert "张家院内" not in html, "the address is not among the public fields"


def test_public_text_is_masked_on_every_page(client, db_session: Session) -> None:
    mod = moderator(db_session)
    case = disclosed(db_session, "张记13800001111小卖部", actor=mod,
                     summary="门前停放晋D·54321货车，堵塞消防车道")
    for url, body in public_bodies(client, case).items():
        assert "13800001111" not in body, url
        assert "54321" not in body, url
    assert "138********" in client.get("/disclosures").get_data(as_text=True)


def test_the_home_page_shows_latest_disclosures_and_figures(client, db_session: Session) -> None:
    disclosed(db_session, "首页展示商店", severity=Severity.MAJOR)
    html = client.get("/").get_data(as_text=True)
    assert "最新公示的火灾隐患" in html and "首页展示商店" in html
    assert "全县数字一览" in html  # the county's home (issue 18); a township's says 全乡
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", html))
    assert figures["核查属实隐患"] == "1" and figures["未销案重大隐患"] == "1"
    assert 'href="/disclosures"' in html and 'href="/stats"' in html


def test_stats_draws_svg_charts_without_javascript(client, db_session: Session) -> None:
    disclosed(db_session, "统计商店", category=category(db_session, "wiring"))
    response = client.get("/stats")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count("<svg") >= 5 and "<script" not in html
    assert "电气线路铺设不规范" in html and "阳高村（示例）" in html
    assert "动态清零" in html


def test_a_repeated_request_with_the_etag_gets_304(client, db_session: Session) -> None:
    disclosed(db_session, "缓存商店")
    for url in ("/", "/disclosures", "/stats", "/disclosures.json", "/disclosures/feed.atom"):
        first = client.get(url)
        etag = first.headers["ETag"]
        assert first.status_code == 200 and first.headers["Last-Modified"], url
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.get_data() == b"", url
        assert again.headers["ETag"] == etag
        since = client.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]})
        assert since.status_code == 304, url


def test_a_disclosure_change_invalidates_the_etag(client, db_session: Session) -> None:
    mod = moderator(db_session)
    case = disclosed(db_session, "变化商店", actor=mod)
    etag = client.get("/disclosures").headers["ETag"]
    withdraw_disclosure(db_session, case, actor=mod, reason="误报")
    response = client.get("/disclosures", headers={"If-None-Match": etag})
    assert response.status_code == 200 and "变化商店" not in response.get_data(as_text=True)


def test_the_village_notice_is_printable_with_a_qr_code(client, db_session: Session) -> None:
    disclosed(db_session, "公示栏商店", summary="违规住人")
    v01 = village(db_session, "V01")
    html = client.get("/disclosures/notice/V01").get_data(as_text=True)
    assert "阳高村（示例）" in html and "火灾隐患公示" in html
    assert "公示栏商店" in html and "违规住人" in html
    assert "<svg" in html and f"/disclosures?village={v01.id}" in html
    assert "@media print" in client.get("/static/css/site.css").get_data(as_text=True)
    assert client.get("/disclosures/notice/NOPE").status_code == 404
    assert "/disclosures/notice/V01" in client.get("/disclosures/notices").get_data(as_text=True)


def test_the_nav_links_to_disclosures_and_stats(client) -> None:
    html = client.get("/disclosures").get_data(as_text=True)
    assert '>隐患公示</a>' in html and '>统计</a>' in html
    assert 'href="/disclosures" aria-current="page"' in html


def test_the_etag_changes_at_midnight_when_overdue_markers_may_turn_on(
    client, db_session: Session, monkeypatch,
) -> None:
    from portal.web import caching

    disclosed(db_session, "跨日商店", rectify_by=dt.date.today())
    etag = client.get("/disclosures").headers["ETag"]
    tomorrow = utcnow() + dt.timedelta(days=1)
    monkeypatch.setattr(caching, "utcnow", lambda: tomorrow)
    response = client.get("/disclosures", headers={"If-None-Match": etag})
    assert response.status_code == 200 and response.headers["ETag"] != etag


def test_the_list_costs_the_same_queries_for_one_row_or_a_full_page(
    app, client, db_session: Session,
) -> None:
    from sqlalchemy import event

    from portal.db import database

    engine = database(app).engine
    mod = moderator(db_session)

    def queries(url: str) -> int:
        seen: list[str] = []

        def count(*_args) -> None:
            seen.append("q")

        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    disclosed(db_session, "计数商店00", actor=mod)
    one = queries("/disclosures")
    for i in range(1, 20):
        disclosed(db_session, f"计数商店{i:02d}", actor=mod)
    assert queries("/disclosures") == one, "no query per row (N+1)"


def test_the_home_page_lists_published_bulletins_only(client, db_session: Session) -> None:
    from portal.domain.models import Bulletin

    author = moderator(db_session)
    common = {"period_start": dt.date(2026, 1, 1), "period_end": dt.date(2026, 1, 31),
              "text": "正文", "figures": {}, "created_by_id": author.id}
    db_session.add_all([Bulletin(title="一月隐患整改通报", published_at=utcnow(), **common),
                        Bulletin(title="尚未发布的草稿", **common)])
    db_session.flush()
    html = client.get("/").get_data(as_text=True)
    assert "一月隐患整改通报" in html and "尚未发布的草稿" not in html


def test_the_bulletins_page_pages_the_published_newest_first(client, db_session: Session) -> None:
    from portal.domain.models import Bulletin

    author = moderator(db_session)
    common = {"period_start": dt.date(2026, 1, 1), "period_end": dt.date(2026, 1, 31),
              "text": "正文", "figures": {}, "created_by_id": author.id}
    now = utcnow()
    db_session.add_all([Bulletin(title=f"第{i:02d}期通报", published_at=now - dt.timedelta(days=i),
                                 **common) for i in range(25)]
                       + [Bulletin(title="尚未发布的草稿", **common)])
    db_session.flush()

    def titles(query: str) -> list[str]:
        html = client.get("/bulletins" + query).get_data(as_text=True)
        return re.findall(r"第(\d\d)期通报", html)

    first, second = titles(""), titles("?page=2")
    assert first == [f"{i:02d}" for i in range(20)]
    assert second == [f"{i:02d}" for i in range(20, 25)]
    assert "第 1 / 2 页" in client.get("/bulletins").get_data(as_text=True)
    assert titles("?page=99") == second, "a page past the end shows the last page"
    assert "尚未发布的草稿" not in client.get("/bulletins?page=2").get_data(as_text=True)
