"""The working-day calendar: the statutory holidays of 《全国年节及纪念日放假办法》, an admin's
import over them, and where each day comes from (issue 20)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path

import chinese_calendar
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.casework import sla
from portal.domain.enums import Role
from portal.domain.models import CalendarYear
from tests.admin.conftest import login, make_user
from tests.conftest import csrf_token

Publish = Callable[[Mapping[int, Mapping[dt.date, bool]]], None]


def _span(first: str, last: str, year: int = 2026) -> list[dt.date]:
    day, end = dt.date.fromisoformat(f"{year}-{first}"), dt.date.fromisoformat(f"{year}-{last}")
    return [day + dt.timedelta(days=n) for n in range((end - day).days + 1)]


# 2026 as 国办发明电〔2025〕7号 published it: the holidays, then the make-up working days.
PUBLISHED_2026: dict[dt.date, bool] = {
    **dict.fromkeys([day for first, last in (
        ("01-01", "01-03"), ("02-15", "02-23"), ("04-04", "04-06"), ("05-01", "05-05"),
        ("06-19", "06-21"), ("09-25", "09-27"), ("10-01", "10-07")) for day in _span(first, last)],
        False),
    **dict.fromkeys([dt.date.fromisoformat(f"2026-{d}") for d in (
        "01-04", "02-14", "02-28", "05-09", "09-20", "10-10")], True),
}


@pytest.fixture
def official_calendar(monkeypatch: pytest.MonkeyPatch) -> Publish:
    """Pin the published schedule (chinesecalendar's, in production) to 2026 as published and
    nothing later, so that these dates do not move with a new release of the package.

    Returns ``publish({year: {day: workday}})`` to publish other years instead (days not listed
    follow Monday to Friday; years not given are unknown, so they fall back on the law)."""
    def publish(years: Mapping[int, Mapping[dt.date, bool]]) -> None:
        def schedule(day: dt.date) -> bool | None:
            days = years.get(day.year)
            return None if days is None else days.get(day, day.weekday() < 5)
        monkeypatch.setattr(sla, "official_schedule", schedule)

    publish({2026: PUBLISHED_2026})
    return publish


pytestmark = pytest.mark.usefixtures("app", "official_calendar")


def national_day_2027() -> list[tuple[dt.date, bool, str]]:
    """An invented notice for National Day 2027 alone (the State Council had not published
    2027's when this was written): 1–7 October off, Sunday 26 September and Saturday 9 October
    worked."""
    return ([(day, False, "国庆节") for day in _span("10-01", "10-07", 2027)]
            + [(dt.date(2027, 9, 26), True, "国庆节调休上班"),
               (dt.date(2027, 10, 9), True, "国庆节调休上班")])


# ---------------------------------------------------------------- the law's holidays


def test_the_statutory_holidays_of_2027() -> None:
    assert sla.statutory_holidays(2027) == {
        dt.date(2027, 1, 1): "元旦",
        dt.date(2027, 2, 5): "春节",  # 除夕
        dt.date(2027, 2, 6): "春节",  # 正月初一
        dt.date(2027, 2, 7): "春节",
        dt.date(2027, 2, 8): "春节",  # 正月初三
        dt.date(2027, 4, 5): "清明节",
        dt.date(2027, 5, 1): "劳动节",
        dt.date(2027, 5, 2): "劳动节",
        dt.date(2027, 6, 9): "端午节",
        dt.date(2027, 9, 15): "中秋节",
        dt.date(2027, 10, 1): "国庆节",
        dt.date(2027, 10, 2): "国庆节",
        dt.date(2027, 10, 3): "国庆节",
    }


@pytest.mark.parametrize(("year", "day"), [(2024, 4), (2025, 4), (2026, 5), (2027, 5),
                                           (2028, 4)])
def test_qingming_is_the_solar_term_day(year: int, day: int) -> None:
    holidays = sla.statutory_holidays(year)
    assert [d for d, name in holidays.items() if name == "清明节"] == [dt.date(year, 4, day)]


def test_qingming_agrees_with_chinesecalendars_solar_terms() -> None:
    # An independent formula (寿星公式 with its table of exceptions), for every year that
    # Qingming has been a holiday (since 2008) to 2100.
    for year in range(2008, 2101):
        terms = chinese_calendar.get_solar_terms(dt.date(year, 4, 1), dt.date(year, 4, 30))
        qingming = [day for day, name in terms if name == "清明"]
        assert [d for d, n in sla.statutory_holidays(year).items() if n == "清明节"] == qingming


@pytest.mark.parametrize(("year", "eve"), [(2025, "01-28"), (2026, "02-16"), (2027, "02-05"),
                                           (2031, "01-22")])
def test_the_spring_festival_is_four_days_from_new_years_eve(year: int, eve: str) -> None:
    start = dt.date.fromisoformat(f"{year}-{eve}")
    spring = [d for d, name in sla.statutory_holidays(year).items() if name == "春节"]
    assert spring == [start + dt.timedelta(days=n) for n in range(4)]


def test_earlier_years_follow_the_edition_then_in_force() -> None:
    # 2013 amendment (2014–2024): 正月初一 to 初三, one day of Labour Day.
    y2024 = sla.statutory_holidays(2024)
    assert [d for d, n in y2024.items() if n == "春节"] == _span("02-10", "02-12", 2024)
    assert [d for d, n in y2024.items() if n == "劳动节"] == [dt.date(2024, 5, 1)]
    # 2007 amendment (2008–2013): 除夕 to 初二.
    y2010 = sla.statutory_holidays(2010)
    assert [d for d, n in y2010.items() if n == "春节"] == _span("02-13", "02-15", 2010)
    # 1999: three days of Labour Day, no Qingming, Dragon Boat or Mid-Autumn.
    y2005 = sla.statutory_holidays(2005)
    assert sorted(set(y2005.values())) == sorted({"元旦", "春节", "劳动节", "国庆节"})
    assert [d for d, n in y2005.items() if n == "劳动节"] == _span("05-01", "05-03", 2005)


def test_every_published_schedule_gives_the_statutory_holidays_off() -> None:
    # The past schedules do not change: a check of the editions against them.
    for year in range(2004, 2027):
        for day, name in sla.statutory_holidays(year).items():
            assert not chinese_calendar.is_workday(day), (day, name)


def test_festivals_on_one_day_share_it() -> None:
    assert sla.statutory_holidays(2031)[dt.date(2031, 10, 1)] == "中秋节、国庆节"


def test_the_pinned_2026_is_the_published_one() -> None:
    day = dt.date(2026, 1, 1)
    while day.year == 2026:
        expected = PUBLISHED_2026.get(day, day.weekday() < 5)
        assert chinese_calendar.is_workday(day) is expected, day
        day += dt.timedelta(days=1)


# ---------------------------------------------------------------- the fallback


def test_the_fallback_counts_the_law_not_a_guess_at_the_arrangement(db_session: Session) -> None:
    assert sla.calendar_status(db_session, 2027).source is sla.CalendarSource.FALLBACK
    assert not sla.is_workday(db_session, dt.date(2027, 2, 5))  # 除夕, a Friday
    assert not sla.is_workday(db_session, dt.date(2027, 4, 5))  # 清明, a Monday
    # The days in lieu that the holidays package guesses are the notice's to decide.
    assert sla.is_workday(db_session, dt.date(2027, 2, 9))
    assert sla.is_workday(db_session, dt.date(2027, 10, 4))
    assert sla.add_working_days(db_session, dt.date(2027, 2, 4), 1) == dt.date(2027, 2, 9)


def test_a_year_no_package_knows_counts_new_years_eve_and_qingming(db_session: Session) -> None:
    # 2031: 除夕 is Wednesday 22 January; Qingming, Saturday 5 April, gets no guessed Monday.
    calendar = sla.WorkdayCalendar(db_session)
    assert calendar.source(2031) is sla.CalendarSource.FALLBACK
    assert calendar.add_working_days(dt.date(2031, 1, 21), 1) == dt.date(2031, 1, 27)
    assert calendar.add_working_days(dt.date(2031, 4, 3), 1) == dt.date(2031, 4, 4)
    assert calendar.add_working_days(dt.date(2031, 4, 4), 1) == dt.date(2031, 4, 7)
    days = calendar.days(2031)
    assert {(d.day, d.name) for d in days} >= {(dt.date(2031, 1, 22), "春节"),
                                               (dt.date(2031, 4, 5), "清明节")}
    assert {d.source for d in days} == {sla.DaySource.STATUTORY}
    assert {d.origin for d in days} == {"法定节假日"}


# ---------------------------------------------------------------- an import over the law


def test_a_national_day_only_import_leaves_new_year_and_the_spring_festival_holidays(
    db_session: Session,
) -> None:
    report = sla.import_schedule(db_session, national_day_2027(), notice="国办发明电（测试）")
    assert sla.calendar_status(db_session, 2027).source is sla.CalendarSource.TABLE
    calendar = sla.WorkdayCalendar(db_session)
    assert not calendar.is_workday(dt.date(2027, 1, 1))
    for day in _span("02-05", "02-08", 2027):
        assert not calendar.is_workday(day), day
    assert calendar.add_working_days(dt.date(2027, 2, 4), 1) == dt.date(2027, 2, 9)
    # The notice's own days still count.
    assert not calendar.is_workday(dt.date(2027, 10, 4))
    assert calendar.is_workday(dt.date(2027, 10, 9))
    # The admin is told which statutory weekdays the file left out.
    assert list(report.unlisted) == [dt.date(2027, 1, 1), dt.date(2027, 2, 5),
                                     dt.date(2027, 2, 8), dt.date(2027, 4, 5),
                                     dt.date(2027, 6, 9), dt.date(2027, 9, 15)]
    assert "文件未列出的法定节假日 6 天（元旦、春节、清明节、端午节、中秋节）" in report.message
    status = sla.calendar_status(db_session, 2027)
    assert status.unlisted == ("元旦", "春节", "清明节", "端午节", "中秋节")
    assert "国办发明电（测试）" in status.message and "通知未列出的法定节假日" in status.message


def test_an_import_cannot_make_a_statutory_holiday_a_working_day(db_session: Session,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "2027.csv"
    path.write_text("date,workday,name\n2027-02-06,班,春节调休上班\n", encoding="utf-8")
    with pytest.raises(sla.CalendarImportError,
                       match="2027-02-06 是《全国年节及纪念日放假办法》规定的法定节假日（春节）"):
        sla.import_schedule_file(db_session, path)
    assert db_session.get(CalendarYear, 2027) is None
    assert not sla.is_workday(db_session, dt.date(2027, 2, 8))


def test_a_reimport_replaces_the_notices_days_but_not_the_law(db_session: Session) -> None:
    sla.import_schedule(db_session, [*national_day_2027(), (dt.date(2027, 10, 8), False, "")])
    assert not sla.is_workday(db_session, dt.date(2027, 10, 8))
    sla.import_schedule(db_session, national_day_2027())
    assert sla.is_workday(db_session, dt.date(2027, 10, 8))
    assert not sla.is_workday(db_session, dt.date(2027, 1, 1))


# ---------------------------------------------------------------- where each day comes from


def test_each_day_says_where_it_comes_from(db_session: Session) -> None:
    sla.import_schedule(db_session, national_day_2027(), notice="国办发明电（测试）")
    days = {d.day: d for d in sla.calendar_days(db_session, 2027)}
    national = days[dt.date(2027, 10, 1)]
    assert (national.workday, national.name, national.source) == (
        False, "国庆节", sla.DaySource.NOTICE)
    assert national.origin == "通知：国办发明电（测试）"
    assert days[dt.date(2027, 10, 9)].workday
    eve = days[dt.date(2027, 2, 5)]
    assert (eve.workday, eve.name, eve.source) == (False, "春节", sla.DaySource.STATUTORY)
    assert "通知未列出" in eve.origin
    assert dt.date(2027, 2, 6) in days  # a weekend festival day is listed too

    published = {d.day: d for d in sla.calendar_days(db_session, 2026)}
    assert {d.source for d in published.values()} == {sla.DaySource.PACKAGE}
    assert published[dt.date(2026, 10, 10)].workday
    assert published[dt.date(2026, 10, 1)].name == "国庆节"
    assert published[dt.date(2026, 10, 5)].name == "国庆节"  # a day the notice added
    assert published[dt.date(2026, 2, 23)].name == "春节"
    assert {day: d.workday for day, d in published.items() if d.workday != (day.weekday() < 5)
            } == {day: w for day, w in PUBLISHED_2026.items() if w != (day.weekday() < 5)}


def test_a_calendar_can_be_given_its_published_schedule(db_session: Session) -> None:
    calendar = sla.WorkdayCalendar(
        db_session, official=lambda day: None if day.year != 2030 else day != dt.date(2030, 1, 2))
    assert calendar.source(2030) is sla.CalendarSource.PACKAGE
    assert not calendar.is_workday(dt.date(2030, 1, 2))
    assert sla.WorkdayCalendar(db_session).source(2030) is sla.CalendarSource.FALLBACK


def test_calendar_status_names_the_sources(runner, db_session: Session, tmp_path: Path) -> None:
    path = tmp_path / "2027.toml"
    path.write_text('notice = "国办发明电（测试）"\n' + "".join(
        f'[[days]]\ndate = {day.isoformat()}\nworkday = {str(workday).lower()}\nname = "{name}"\n'
        for day, workday, name in national_day_2027()), encoding="utf-8")
    imported = runner.invoke(args=["calendar", "import", str(path)])
    assert imported.exit_code == 0, imported.output
    assert "文件未列出的法定节假日 6 天" in imported.output

    result = runner.invoke(args=["calendar", "status", "2026", "2027", "2028"])
    assert result.exit_code == 1  # 2028 has no schedule
    lines = result.output.splitlines()
    assert "2026 年工作日依据：chinesecalendar 内置的国务院放假安排" in lines
    assert "  2026年10月10日（周六） 上班 调休上班（chinesecalendar）" in lines
    assert "  2026年10月5日（周一） 放假 国庆节（chinesecalendar）" in lines
    assert ("2027 年工作日依据：管理员录入的国务院放假安排（国办发明电（测试））；通知未列出的"
            "法定节假日（元旦、春节、清明节、端午节、中秋节）按《全国年节及纪念日放假办法》计为放假"
            in lines)
    assert "  2027年10月1日（周五） 放假 国庆节（通知：国办发明电（测试））" in lines
    assert "  2027年2月5日（周五） 放假 春节（法定节假日，通知未列出）" in lines
    assert any(line.startswith("警告：2028 年的节假日调休安排尚未录入") for line in lines)
    assert "  2028年1月25日（周二） 放假 春节（法定节假日）" in lines


def test_the_admin_calendar_page_shows_where_each_day_comes_from(
    client: FlaskClient, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "local_today", lambda *a, **k: dt.date(2027, 6, 1))
    admin = make_user(db_session, "cal-admin", Role.ADMIN)
    sla.import_schedule(db_session, national_day_2027(), notice="国办发明电（测试）")
    db_session.commit()
    assert login(client, admin.username).status_code == 302
    html = client.get("/admin/calendar").get_data(as_text=True)
    assert "2027 年工作日依据：管理员录入的国务院放假安排（国办发明电（测试））" in html
    assert "<td>通知：国办发明电（测试）</td>" in html
    assert "<td>法定节假日，通知未列出</td>" in html
    assert "2028 年的节假日调休安排尚未录入" in html and "2028年1月25日" in html


def test_the_admin_is_told_why_a_statutory_working_day_is_refused(
    client: FlaskClient, db_session: Session
) -> None:
    admin = make_user(db_session, "cal-admin", Role.ADMIN)
    assert login(client, admin.username).status_code == 302
    response = client.post("/admin/calendar", data={
        "csrf_token": csrf_token(client, "/admin/calendar"), "fmt": "csv",
        "text": "date,workday,name\n2027-10-02,是,国庆节调休上班\n"})
    assert response.status_code == 400
    assert "是《全国年节及纪念日放假办法》规定的法定节假日（国庆节），不能设为上班日" in (
        response.get_data(as_text=True))
    assert db_session.scalar(select(CalendarYear).where(CalendarYear.year == 2027)) is None
