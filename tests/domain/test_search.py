"""The disclosures' search (issue 19): the n-gram index answers exactly what an exact match over
the public text would, follows every change, and never finds what the public cannot read."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.disclosure import search
from portal.domain.disclosure.publication import (
    DisclosureFilters,
    disclose_case,
    edit_public_summary,
    iter_disclosed,
    search_disclosed,
    withdraw_disclosure,
)
from portal.domain.enums import CaseStatus, Role
from portal.domain.models import Case, SearchGram, Unit, User
from portal.domain.vetting.duplicates import normalize_name
from tests.factories import make_case, venue_type, village

pytestmark = pytest.mark.usefixtures("app")

TODAY = dt.date(2026, 6, 1)
PHONE = "13812345678"

# (unit name, venue type, address, public summary)
UNITS = [
    ("红星超市", "street_shop", "人民路12号", "疏散通道堆放货物，灭火器过期。"),
    ("好运来饭店", "restaurant", "东大街88号", "厨房燃气软管老化，未设报警装置。"),
    ("张记小卖部", "street_shop", "北街3号", "店内住人，电动车室内充电。"),
    ("ABC便利超市", "street_shop", "ＡＢＣ广场1楼", "超市仓库与住宿混合，10%通道堵塞。"),
    ("李家饭店", "old_residential", "南巷7号李家院内", "自建房内经营饭店，楼梯下堆放杂物_纸箱。"),
    (f"王五{PHONE}加工厂", "street_shop", f"电话{PHONE}隔壁", "车间电线私拉乱接。"),
    ("新华书店", "street_shop", "人民路超市对面", "安全出口上锁。"),
]
WORDS = [
    # one character
    "店", "超", "%", "_", "号", "a",
    # two
    "超市", "饭店", "人民", "燃气", "ab", "ＡＢ", "88", "3号",
    # four or more
    "红星超市", "燃气软管", "人民路12", "abc便利", "ＡＢＣ广场", "10%通道", "杂物_纸",
    "市人民",  # across the name and the address of 红星超市: not a word of either
    "好运来 饭店",  # spaces do not matter
    PHONE, "138****",  # a masked number is found only as the public sees it
    "南巷7号",  # a home's address is not public
    "不存在的词",
]


def staff(session: Session) -> User:
    user = User(username="search-mod", password_hash="x", role=Role.MODERATOR)
    session.add(user)
    session.flush()
    return user


def disclosed_case(session: Session, actor: User, name: str, venue: str, address: str,
                   summary: str, *, internal: str = "") -> Case:
    unit = Unit(name=name, normalized_name=normalize_name(name), village=village(session),
                venue_type=venue_type(session, venue), address=address)
    now = utcnow()
    case = make_case(session, unit=unit, village=unit.village, status=CaseStatus.RECTIFYING,
                     routed_at=now, confirmed_at=now, internal_summary=internal,
                     rectify_by=TODAY + dt.timedelta(days=10))
    disclose_case(session, case, actor=actor, public_summary=summary)
    return case


@pytest.fixture
def cases(db_session: Session) -> list[Case]:
    actor = staff(db_session)
    return [disclosed_case(db_session, actor, *row) for row in UNITS]


def found(session: Session, words: str, **filters) -> list[int]:
    page = search_disclosed(session, DisclosureFilters(unit_name=words, **filters),
                            today=TODAY, per_page=100)
    return [c.id for c in page.items]


def brute_force(session: Session, words: str) -> list[int]:
    """An exact match over what the public pages show, newest disclosure first."""
    needle = search.normalize(words)
    shown = sorted(iter_disclosed(session, today=TODAY),
                   key=lambda c: (c.disclosed_at, c.id), reverse=True)
    return [c.id for c in shown
            if any(needle in search.normalize(text)
                   for text in (c.unit_name, c.address, c.summary))]


@pytest.mark.parametrize("words", WORDS)
def test_results_equal_an_exact_match_over_the_public_text(
        db_session: Session, cases: list[Case], words: str) -> None:
    assert found(db_session, words) == brute_force(db_session, words)


def test_the_sample_finds_what_people_type(db_session: Session, cases: list[Case]) -> None:
    by_name = {c.unit.name: c.id for c in cases}
    assert set(found(db_session, "超市")) == {
        by_name["红星超市"], by_name["ABC便利超市"], by_name["新华书店"]}, "name, summary, address"
    assert set(found(db_session, "饭店")) == {by_name["好运来饭店"], by_name["李家饭店"]}
    assert found(db_session, "ａｂｃ便利") == [by_name["ABC便利超市"]], "width and case"
    assert found(db_session, "10%通道") == [by_name["ABC便利超市"]]
    assert found(db_session, "%") == [by_name["ABC便利超市"]], "a wildcard is a character"
    assert found(db_session, "市人民") == [], "no word spans two fields"
    assert found(db_session, "超市", village_id=village(db_session, "V02").id) == []


def test_text_the_public_cannot_read_is_not_found(db_session: Session) -> None:
    actor = staff(db_session)
    disclosed_case(db_session, actor, "内部测试店", "street_shop", "西街1号", "公开的内容",
                   internal="内部摘要机密词")
    disclosed_case(db_session, actor, f"赵六{PHONE}小吃", "family_workshop", "赵家后院密室",
                   "作坊内堆放易燃物")
    make_case(db_session, unit=Unit(name="未公开超市", normalized_name="未公开超市",
                                    village=village(db_session), address="未公开路"),
              internal_summary="未公开超市的问题")
    for words in ("机密词", "内部摘要", PHONE, "12345678", "赵家后院", "未公开", "未公开超市"):
        assert found(db_session, words) == [], words
    assert found(db_session, "赵六138") != [], "the masked prefix is public"


def test_the_index_follows_edits_withdrawals_and_renames(
        db_session: Session, cases: list[Case]) -> None:
    actor = User(username="search-mod2", password_hash="x", role=Role.MODERATOR)
    db_session.add(actor)
    red = cases[0]
    edit_public_summary(db_session, red, "消防栓被遮挡。", actor=actor)
    assert found(db_session, "消防栓") == [red.id]
    assert red.id not in found(db_session, "灭火器过期")

    red.unit.name = "红日商行"
    db_session.flush()
    assert found(db_session, "红日商行") == [red.id] and found(db_session, "红星") == []

    # Becoming a home takes the address off the public pages, and out of the index.
    red.unit.venue_type = venue_type(db_session, "old_residential")
    db_session.flush()
    assert found(db_session, "人民路12") == []

    village(db_session).name = "幸福新村"
    db_session.flush()
    assert set(found(db_session, "幸福新村")) == {c.id for c in cases}, "the address names it"

    withdraw_disclosure(db_session, red, actor=actor, reason="信息有误")
    assert found(db_session, "红日商行") == []
    assert not db_session.scalars(select(SearchGram).where(SearchGram.case_id == red.id)).all()
    disclose_case(db_session, red, actor=actor)
    assert found(db_session, "红日商行") == [red.id]
    assert search.differences(db_session) == []


def test_rebuild_writes_the_same_index_and_check_finds_a_stale_one(
        db_session: Session, cases: list[Case]) -> None:
    assert search.differences(db_session) == []
    before = sorted(tuple(r) for r in db_session.execute(
        select(SearchGram.case_id, SearchGram.gram, SearchGram.disclosed_at)))
    assert search.rebuild(db_session) == len(cases)
    assert sorted(tuple(r) for r in db_session.execute(
        select(SearchGram.case_id, SearchGram.gram, SearchGram.disclosed_at))) == before
    # A change that bypassed the flush (as bench.seed's bulk rows do) is caught by the check.
    db_session.connection().execute(
        Case.__table__.update().where(Case.__table__.c.id == cases[1].id)
        .values(public_summary="绕过了刷新的修改"))
    db_session.expire_all()
    assert [d.case_id for d in search.differences(db_session)] == [cases[1].id]
    search.rebuild(db_session)
    assert search.differences(db_session) == []


def test_the_rebuild_command_repairs_a_stale_index_past_the_webs_statement_timeout(
        db_session: Session, cases: list[Case], runner) -> None:
    """``flask search rebuild`` builds the index (on PostgreSQL by COPY, its gram index once at
    the end) in statements that take minutes at a county's size: it lifts the web's
    statement timeout for its transaction, and ``--check`` then finds the index exact."""
    from sqlalchemy import text

    db_session.connection().execute(
        Case.__table__.update().where(Case.__table__.c.id == cases[1].id)
        .values(public_summary="绕过了刷新的修改"))
    db_session.expire_all()
    result = runner.invoke(args=["search", "rebuild", "--check"])
    assert result.exit_code == 1 and "不一致：1 件" in result.output
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(text("SET LOCAL statement_timeout = 1"))  # 1 ms: anything times out
    result = runner.invoke(args=["search", "rebuild"])
    assert result.exit_code == 0 and f"共 {len(cases)} 件公示" in result.output, result.output
    assert runner.invoke(args=["search", "rebuild", "--check"]).exit_code == 0
    assert found(db_session, "绕过了刷新的修改") == [cases[1].id]


def test_the_count_stops_at_the_cap_and_the_page_stays_exact(
        db_session: Session, cases: list[Case], monkeypatch) -> None:
    monkeypatch.setattr(search, "COUNT_CAP", 2)
    page = search_disclosed(db_session, DisclosureFilters(unit_name="店"), today=TODAY,
                            per_page=2)
    expected = brute_force(db_session, "店")
    assert len(expected) > 3
    assert page.total == 3 and search.is_capped(page.total)
    assert [c.id for c in page.items] == expected[:2]
    second = search_disclosed(db_session, DisclosureFilters(unit_name="店"), today=TODAY,
                              page=2, per_page=2)
    assert [c.id for c in second.items] == expected[2:4]


def test_under_the_cap_one_walk_gives_the_exact_total_and_every_page(
        db_session: Session, cases: list[Case]) -> None:
    expected = brute_force(db_session, "店")
    assert len(expected) >= 3
    numbers = [*range(1, len(expected) + 1), 99]
    pages = [search_disclosed(db_session, DisclosureFilters(unit_name="店"), today=TODAY,
                              page=n, per_page=1) for n in numbers]
    assert all(p.total == len(expected) and not search.is_capped(p.total) for p in pages)
    assert [c.id for p in pages[:-1] for c in p.items] == expected
    # a page past the end is the last page
    assert pages[-1].number == len(expected) and [c.id for c in pages[-1].items] == expected[-1:]


def test_of_two_common_pairs_the_shorter_posting_is_walked(
        db_session: Session, monkeypatch) -> None:
    """Both pairs pass the first count; the second tells them apart, so the rarer is walked
    (at the county's size the first cap alone chose by code point: seconds per search)."""
    actor = staff(db_session)
    for n in range(6):
        disclosed_case(db_session, actor, f"周记{n}号仓库" if n < 2 else f"周记{n}号",
                       "street_shop", "", "通道堵塞")
    for n in range(3):
        disclosed_case(db_session, actor, f"李记{n}仓库", "street_shop", "", "通道堵塞")
    monkeypatch.setattr(search, "RAREST_CAPS", (2, 50))
    # 周记: 6 entries; 仓库: 5; both pass 2: the recount chooses 仓库.
    assert search._rarest(db_session, {"周记", "仓库"}) == "仓库"
    assert search._rarest(db_session, {"周记", "仓库", "号仓"}) == "号仓"  # 2: the first count
    assert search._rarest(db_session, {"周记", "无此"}) is None
    assert found(db_session, "周记0号仓库") == brute_force(db_session, "周记0号仓库")


def test_a_word_typed_again_is_not_counted_again_and_stays_exact(
        db_session: Session) -> None:
    """The counts that choose the posting to walk are remembered by the process: a word
    searched again costs its walk only. A remembered count may be out of date, which only
    changes which posting is walked; an empty one is never remembered, so a case disclosed
    after a search that found nothing is found at once."""
    from sqlalchemy import event

    actor = staff(db_session)
    disclosed_case(db_session, actor, "周记仓库", "street_shop", "", "通道堵塞")
    counts: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        if "search_grams" in statement and "count(" in statement.lower():
            counts.append(statement)

    connection = db_session.connection()
    event.listen(connection, "before_cursor_execute", note)
    try:
        assert found(db_session, "周记仓") == brute_force(db_session, "周记仓") != []
        assert len(counts) == 1
        disclosed_case(db_session, actor, "周记仓房", "street_shop", "", "通道堵塞")
        assert found(db_session, "周记仓") == brute_force(db_session, "周记仓")
        assert len(found(db_session, "周记仓")) == 2, "a stale count still finds every case"
        assert len(counts) == 1, "the pairs' counts were remembered"
        assert found(db_session, "记仓房") == brute_force(db_session, "记仓房")
        assert found(db_session, "王记饭") == []  # 王记 has no posting: nothing to remember
        disclosed_case(db_session, actor, "王记饭店", "street_shop", "", "通道堵塞")
        assert found(db_session, "王记饭") == brute_force(db_session, "王记饭") != []
    finally:
        event.remove(connection, "before_cursor_execute", note)
