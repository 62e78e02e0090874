"""The whole journey in a real browser, every role in its own browser context: a resident
reports from a phone, a moderator accepts and routes, the fire station checks and rectifies
from a phone, the moderator discloses, the public sees it, a supervisor closes it, and the
resident reads the outcome. Axe runs on each staff page the journey visits."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from tests import images
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    LiveServer,
    axe_violations,
    screenshot,
    sync_api,
)

UNIT = "福源超市"
PASSWORD = "journey-pass-2026-OK"
VILLAGE = "西沟村（示例）"
FIRE = "阳高乡靠前驻防消防队"
NOTICE_NO = "阳消责改〔2026〕12号"
PUBLIC_PROGRESS = "已清理后门堆放的货物，安全出口已拆锁，正在更换疏散指示标志。"


@pytest.fixture(scope="module")
def server(live_server: LiveServer) -> LiveServer:
    """The session's server with one account per staff role."""
    for name, role, *department in (("shenhe", "moderator"), ("duban", "supervisor"),
                                    ("xiaofang", "officer", "FIRE"), ("guanli", "admin")):
        extra = ["--department", department[0]] if department else []
        live_server.flask("users", "create", name, "--role", role, *extra,
                          input=f"{PASSWORD}\n{PASSWORD}\n")
    return live_server


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "IMG_20261128_190000.jpg"
    path.write_bytes(images.jpeg_with_gps((1600, 1200)))
    return path


def _page(browser, viewport: dict, **extra):
    phone = viewport is PHONE
    context = browser.new_context(viewport=viewport, device_scale_factor=1, locale="zh-CN",
                                  is_mobile=phone, has_touch=phone, **extra)
    return context.new_page()


# axe accepts a label whose `for` names an id that several fields share; people do not: the
# label, and what a screen reader reads, belong to the first of them only.
AMBIGUOUS_LABELS = """() => [...document.querySelectorAll('label[for]')]
    .map(l => l.htmlFor)
    .filter(id => document.querySelectorAll('[id="' + CSS.escape(id) + '"]').length > 1)"""


def _no_violations(page, where: str) -> None:
    found = axe_violations(page)
    assert found == [], f"{where}: {found}"
    ambiguous = page.evaluate(AMBIGUOUS_LABELS)
    assert ambiguous == [], f"{where}: labels shared by several fields: {ambiguous}"
    if page.viewport_size == PHONE:
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= PHONE["width"], f"{where}: scrolls sideways on a phone ({wide} px)"


def _sign_in(page, url: str, username: str) -> None:
    page.goto(url + "/admin/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda address: "/admin/login" not in address)


def _sign_in_with_the_keyboard(page, url: str, username: str) -> None:
    """Skip link, then the form in tab order, submitted with Enter: no mouse at all."""
    page.goto(url + "/admin/login")
    _no_violations(page, "login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "跳到正文"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "登录"
    page.keyboard.press("Enter")
    page.wait_for_url(lambda address: "/admin/login" not in address)


def _nav(page, name: str) -> None:
    page.get_by_role("navigation", name="后台导航").get_by_role("link", name=name).click()
    page.wait_for_load_state()


def _flash(page, text: str) -> None:
    """The message after a step; waits for it, as the page may still be loading."""
    sync_api.expect(page.locator(".flash").first).to_contain_text(text)


def test_a_hazard_from_report_to_closure(server, browser, photo) -> None:
    url = server.url

    # -- A resident, on a phone, reports a blocked exit with a photo and keeps the receipt.
    resident = _page(browser, PHONE)
    resident.goto(url + "/")
    resident.get_by_role("link", name="我要举报").first.click()
    resident.get_by_label("所在村").select_option(label=f"{VILLAGE}（阳高乡）")  # county form
    resident.get_by_label("单位或场所名称").fill(UNIT)
    resident.get_by_label("场所类型（可不选）").select_option(label="沿街商铺")
    resident.get_by_label("详细地址或附近标志物（可不填）").fill("西沟村村口加油站旁")
    resident.locator("label.choice", has_text="占堵生命通道/疏散通道").click()
    resident.get_by_label("隐患情况描述").fill("超市后门被货物堵死，安全出口还上了锁，晚上人很多。")
    resident.get_by_label("现场照片（可不传，最多 6 张）").set_input_files(str(photo))
    resident.get_by_role("button", name="提交举报").click()
    resident.get_by_role("heading", name="举报已提交，感谢您！").wait_for()
    code = resident.locator(".receipt-code").inner_text().strip()
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", code)
    _no_violations(resident, "receipt")

    # -- The moderator signs in at a desk and finds the tip at the top of the queue.
    moderator = _page(browser, DESKTOP)
    _sign_in_with_the_keyboard(moderator, url, "shenhe")
    moderator.wait_for_url("**/admin/queue")
    assert moderator.locator("li.queue-row", has_text=UNIT).count() == 1
    # Other tests' tips may share the queue: the moderator narrows it to the village.
    # A county moderator reads every village with its township (西沟村 is in two).
    moderator.get_by_label("村").select_option(label=f"{VILLAGE}（阳高乡）")
    moderator.get_by_role("button", name="筛选").click()
    moderator.wait_for_url("**/admin/queue?*")
    top = moderator.locator("li.queue-row").first
    assert UNIT in top.inner_text() and "紧急" in top.inner_text()
    assert "照片 1 张" in top.inner_text()
    screenshot(moderator, "queue-desktop")
    _no_violations(moderator, "queue")
    top.get_by_role("link").click()
    sync_api.expect(moderator.get_by_role("heading", level=1)).to_contain_text("紧急" + UNIT)
    assert moderator.get_by_role("img", name="举报照片 1").is_visible()
    assert moderator.get_by_label("隐患单位名称").input_value() == UNIT
    _no_violations(moderator, "tip")
    screenshot(moderator, "tip-desktop")
    moderator.get_by_role("button", name="受理并立案").click()

    # The routing screen proposes the fire station (the urgent category's rule).
    moderator.wait_for_url("**/admin/route/*")
    _flash(moderator, "已受理，立案编号")
    proposal = moderator.locator("dl.proposal").inner_text()
    assert FIRE in proposal and "阳高派出所" in proposal
    assert moderator.get_by_label("牵头部门").locator("option:checked").inner_text() == FIRE
    assert moderator.get_by_label("阳高派出所", exact=True).is_checked()
    _no_violations(moderator, "routing")
    moderator.locator("#route").evaluate("el => el.scrollIntoView()")
    screenshot(moderator, "routing-desktop")
    moderator.get_by_role("button", name="确认分派").click()
    _flash(moderator, f"已派给{FIRE}牵头办理")
    case_id = server.query(f"SELECT case_id FROM tips WHERE unit_name = '{UNIT}'")[0][0]  # noqa: S608

    # -- The fire station's officer, on a phone: accept, confirm on site, set a deadline.
    officer = _page(browser, PHONE)
    _sign_in(officer, url, "xiaofang")
    _nav(officer, "工作台")
    new = officer.locator("#group-new")
    assert UNIT in new.inner_text() and "核查剩余" in new.inner_text()
    screenshot(officer, "desk-phone")
    _no_violations(officer, "desk")
    new.get_by_role("link", name=re.compile(UNIT)).click()
    _no_violations(officer, "desk case (new)")
    officer.get_by_role("button", name="签收").click()
    _flash(officer, "已签收（牵头部门）")

    # Without a conclusion the browser refuses to send the form and says why at the field.
    officer.get_by_role("button", name="提交核查结果").click()
    conclusion = officer.get_by_label("属实：隐患存在，转入整改")
    assert conclusion.evaluate("el => el.validity.valueMissing && el === document.activeElement")
    _flash(officer, "已签收（牵头部门）")
    officer.get_by_label("属实：隐患存在，转入整改").check()
    officer.get_by_label("核查情况（内部）").fill("现场核实：后门堆放饮料箱约三米，安全出口上锁。")
    _no_violations(officer, "desk case (checking)")
    officer.get_by_role("button", name="提交核查结果").click()
    _flash(officer, "已登记核查属实")

    deadline = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date() + dt.timedelta(days=7)
    officer.get_by_label("整改期限").fill(deadline.isoformat())
    officer.get_by_label("责令整改通知书编号").fill(NOTICE_NO)
    _no_violations(officer, "desk case (deadline)")
    officer.get_by_role("button", name="下达整改期限").click()
    _flash(officer, f"整改期限已下达：{deadline.isoformat()}")
    assert "整改剩余 7 天" in officer.locator(".due-banner").inner_text()

    # Public progress with a photo that may be published.
    progress = officer.locator("#act-progress")
    progress.get_by_label("内部进展（仅工作人员可见）").fill("店主已签收通知书，承诺三天内清理。")
    progress.get_by_label("公开进展（可能在公示页面公布，请勿写入个人信息）").fill(PUBLIC_PROGRESS)
    progress.get_by_label("现场照片（可多选，可直接拍照）").set_input_files(str(photo))
    progress.get_by_label("这些照片可以随公开进展一起公布").check()
    _no_violations(officer, "desk case (rectifying)")
    progress.get_by_role("heading").scroll_into_view_if_needed()
    screenshot(officer, "desk-case-phone")
    progress.get_by_role("button", name="发布进展").click()
    _flash(officer, "进展已发布")
    assert PUBLIC_PROGRESS in officer.locator("ol.timeline").inner_text()
    assert officer.get_by_text("可公开").count() == 1

    # -- The moderator discloses the confirmed hazard, after a preview.
    _nav(moderator, "公示管理")
    _no_violations(moderator, "disclosure list")
    moderator.get_by_role("link", name=f"工单 {case_id}：{UNIT}").click()
    moderator.get_by_label("公示内容（具体问题）").fill(
        "超市后门堆放货物堵塞疏散通道，安全出口上锁。")
    # The officer's photo, marked publishable; the resident's photo stays unpublished.
    moderator.get_by_role("checkbox", name=re.compile("处理记录照片")).check()
    moderator.get_by_role("button", name="预览").click()
    preview = moderator.locator("section.preview")
    assert "堵塞疏散通道" in preview.inner_text()
    assert PUBLIC_PROGRESS in preview.inner_text()
    assert preview.get_by_role("img", name="将公开的照片").count() == 1
    _no_violations(moderator, "disclosure preview")
    screenshot(moderator, "disclosure-preview-desktop")
    moderator.get_by_role("button", name="公开").click()
    sync_api.expect(moderator.get_by_role("heading", level=1)).to_contain_text("已于")

    # -- Anyone, on a phone, finds the unit on the disclosure page and reads the progress.
    visitor = _page(browser, PHONE)
    visitor.goto(url + "/disclosures")
    _no_violations(visitor, "/disclosures")
    visitor.get_by_label("单位名称").fill("福源")
    visitor.get_by_label("单位名称").press("Enter")
    visitor.wait_for_load_state()
    visitor.get_by_role("link", name=re.compile(UNIT)).first.click()
    visitor.wait_for_url("**/disclosures/unit/*")
    body = visitor.locator("main").inner_text()
    assert UNIT in body and "堵塞疏散通道" in body and PUBLIC_PROGRESS in body
    assert f"整改期限至{deadline:%Y年%m月%d日}" in body
    screenshot(visitor, "disclosure-unit-phone")
    published = visitor.get_by_role("img", name=re.compile("照片")).first
    published.scroll_into_view_if_needed()
    sync_api.expect(published).to_have_js_property("complete", True)
    assert published.evaluate("img => img.naturalWidth") > 0, "the published photo loads"
    _no_violations(visitor, "unit page")
    visitor.get_by_role("link", name="统计").first.click()
    visitor.wait_for_url("**/stats")
    _no_violations(visitor, "/stats")

    # The other public pages a visitor reaches from there: the village notice boards (where
    # the unit is listed for printing), the open-data page and the bulletins.
    visitor.goto(url + "/disclosures")
    visitor.get_by_role("link", name="各村公示栏").click()
    _no_violations(visitor, "notice boards")
    visitor.locator("li", has_text=f"{VILLAGE}（阳高乡）").get_by_role("link", name=VILLAGE).click()
    assert UNIT in visitor.locator("main").inner_text()
    _no_violations(visitor, "a village's notice")
    visitor.goto(url + "/disclosures")
    visitor.get_by_role("link", name="数据说明与许可").click()
    _no_violations(visitor, "open data")
    visitor.get_by_role("link", name="通报").first.click()
    visitor.wait_for_url("**/bulletins")
    _no_violations(visitor, "bulletins")

    # -- The officer re-inspects and reports the rectification (§20); a supervisor approves
    # closure.
    officer.goto(url + f"/admin/desk/cases/{case_id}")
    report = officer.locator("#act-report")
    report.get_by_label("复查情况（现场复查整改是否到位）").fill("货物已清走，安全出口锁具已拆除，疏散指示标志已更换。")
    report.get_by_label("公开说明（可不填）").fill("隐患已整改完毕。")
    report.get_by_label("整改后照片").set_input_files(str(photo))
    report.get_by_role("button", name="复查合格，报告整改完成").click()
    _flash(officer, "已登记复查，报告整改完成")

    supervisor = _page(browser, DESKTOP)
    _sign_in(supervisor, url, "duban")
    _nav(supervisor, "待销案")
    _no_violations(supervisor, "closures")
    supervisor.get_by_role("link", name=f"工单 {case_id}：{UNIT}").click()
    sync_api.expect(supervisor.get_by_role("heading", level=1)).to_contain_text(
        f"{UNIT} 待销案")
    _no_violations(supervisor, "desk case (closure)")
    supervisor.get_by_label("验收意见（内部）").fill("现场复查，整改到位。")
    supervisor.get_by_role("button", name="批准销案").click()
    _flash(supervisor, "已销案")
    assert "已办结" in supervisor.get_by_role("heading", level=1).inner_text()
    supervisor.goto(url + "/admin/ledger")
    _no_violations(supervisor, "ledger")
    _nav(supervisor, "督办")
    _no_violations(supervisor, "supervision")
    screenshot(supervisor, "supervision-desktop")

    # -- The resident comes back with the receipt and reads the outcome.
    resident.goto(url + "/track")
    resident.get_by_label("16 位查询码").fill(code)
    resident.get_by_role("button", name="查询").click()
    resident.wait_for_url("**/track/status")
    assert "已办结" in resident.locator("h1").inner_text()
    assert "经审核已销案" in resident.locator(".status-line").first.inner_text()
    screenshot(resident, "track-closed-phone")
    _no_violations(resident, "tracking, closed")

    # -- ... and is asked whether the hazard is really gone (回访评价, issue 21).
    assert "请告诉我们隐患是否真正消除" in resident.locator("main").inner_text()
    resident.get_by_label("满意", exact=True).check()
    resident.get_by_role("button", name="提交评价").click()
    resident.wait_for_url("**/track/status**")
    assert "您对办理结果的评价：满意" in resident.locator("main").inner_text()
    _no_violations(resident, "tracking, rated")

    for page in (resident, moderator, officer, visitor, supervisor):
        page.context.close()


@pytest.mark.parametrize("username", ["shenhe", "xiaofang", "duban", "guanli"])
def test_every_page_in_a_roles_navigation_passes_axe(server, browser, username) -> None:
    """After the journey there is something on most screens; each role opens every page its
    navigation (and the supervision tabs) offers, and axe and the label check run on each."""
    page = _page(browser, PHONE if username == "xiaofang" else DESKTOP)
    _sign_in(page, server.url, username)
    links = "nav[aria-label=后台导航] a, nav[aria-label=督办] a"
    waiting = [a.get_attribute("href") for a in page.locator(links).all()]
    seen: set[str] = set()
    while waiting:
        address = waiting.pop(0)
        if address in seen:
            continue
        seen.add(address)
        page.goto(server.url + address)
        _no_violations(page, f"{username} {address}")
        waiting += [a.get_attribute("href") for a in page.locator(links).all()]
    assert len(seen) > 2
    page.context.close()


def test_a_wrong_password_is_announced_and_the_name_kept(server, desktop) -> None:
    desktop.goto(server.url + "/admin/login")
    desktop.get_by_label("用户名").fill("duban")
    desktop.get_by_label("密码").fill("not-the-password-1")
    desktop.get_by_role("button", name="登录").click()
    sync_api.expect(desktop.get_by_role("alert")).to_have_text("用户名或密码不正确。")
    assert desktop.get_by_label("用户名").input_value() == "duban"
    assert desktop.get_by_label("密码").input_value() == ""
    _no_violations(desktop, "login with an error")
