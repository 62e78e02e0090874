"""The search box of /disclosures (issue 19): it finds a word in a unit's name, address or public
summary, says "1000+" where it stopped counting, hints at a one-character query, and costs the
same few queries however many units there are."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.db import database
from portal.domain.disclosure import search
from portal.domain.disclosure.publication import disclose_case
from portal.web.caching import page_cache
from tests.public.test_disclosures import confirmed, listed, moderator, unit

WORDS = ("超", "超市", "灭火器过", "号超市过")  # one, two, four characters, and no match


def _disclose(session: Session, name: str, summary: str, *, actor, address: str = "") -> None:
    where = unit(session, name)
    if address:
        where.address = address
    case = confirmed(session, where)
    disclose_case(session, case, actor=actor, public_summary=summary)


def _queries(app, client, url: str) -> int:
    seen: list[str] = []

    def count(_conn, _cursor, statement: str, *_args) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            seen.append(statement)

    page_cache.clear()
    engine = database(app).engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_a_word_is_found_in_the_name_the_address_or_the_summary(client, db_session) -> None:
    mod = moderator(db_session)
    _disclose(db_session, "红星超市", "灭火器过期", actor=mod)
    _disclose(db_session, "好运来饭店", "后厨堆放超市购物袋", actor=mod)
    _disclose(db_session, "新华书店", "安全出口上锁", actor=mod, address="人民路超市对面")
    _disclose(db_session, "李记汽修店", "机油桶靠近配电箱", actor=mod)
    assert sorted(listed(client, "?q=超市")) == ["好运来饭店", "新华书店", "红星超市"]
    assert listed(client, "?q=饭店") == ["好运来饭店"]
    assert listed(client, "?q=灭火器过期") == ["红星超市"]
    html = client.get("/disclosures?q=超市").get_data(as_text=True)
    assert "共 3 条公示" in html and "只输入一个字" not in html


def test_a_capped_count_says_so_and_one_character_gets_a_hint(
        client, db_session, monkeypatch) -> None:
    mod = moderator(db_session)
    for n in range(4):
        _disclose(db_session, f"第{n}超市", "通道堵塞", actor=mod)
    monkeypatch.setattr(search, "COUNT_CAP", 2)
    html = client.get("/disclosures?q=超市").get_data(as_text=True)
    assert "共 2+ 条公示" in html
    assert "共 4 条公示" in client.get("/disclosures").get_data(as_text=True), "no search: exact"
    hinted = client.get("/disclosures?q=店").get_data(as_text=True)
    assert "只输入一个字" in hinted


def test_one_search_costs_the_same_queries_for_few_units_or_many(app, client,
                                                                 db_session) -> None:
    mod = moderator(db_session)
    for n in range(3):
        _disclose(db_session, f"第{n}号超市", "通道堵塞，灭火器过期", actor=mod)
    few = {q: _queries(app, client, f"/disclosures?q={q}") for q in WORDS}
    for n in range(3, 30):
        _disclose(db_session, f"第{n}号超市", "通道堵塞，灭火器过期", actor=mod)
        _disclose(db_session, f"别家{n}饭店", "后厨油污", actor=mod)
    many = {q: _queries(app, client, f"/disclosures?q={q}") for q in WORDS}
    assert many == few
    assert max(many.values()) <= 20


def test_an_uncached_page_of_the_list_costs_a_few_queries_however_full(
        app, client, db_session) -> None:
    """Every public list page and filter is served from indexes in a fixed handful of round
    trips, cache or no cache (issue 19): the page's ids, their rows with everything a card
    shows in one query, the count from the tallies, the filter choices and the version."""
    mod = moderator(db_session)
    urls = ("/disclosures", "/disclosures?status=rectifying", "/disclosures?page=1&severity=general",
            "/t/yanggao/disclosures", "/disclosures?q=超市")
    _disclose(db_session, "一号超市", "通道堵塞", actor=mod)
    few = {url: _queries(app, client, url) for url in urls}
    for n in range(25):
        _disclose(db_session, f"第{n}号超市", "通道堵塞", actor=mod)
    full = {url: _queries(app, client, url) for url in urls}
    assert full == few
    assert max(full.values()) <= 9, full
