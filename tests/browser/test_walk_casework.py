"""Issue 17's walk in a real browser, at phone and desktop size: the resident answers the
moderator's question and the queue marks the reply; the department reads the moderator's
summary (the description redacted and masked), never the tip itself; the resident's photo the
moderator publishes loads for an anonymous visitor."""

from __future__ import annotations

import re

import pytest

from tests import images
from tests.browser.conftest import DESKTOP, PHONE, LiveServer, axe_violations, sync_api

PASSWORD = "walk-casework-pass-2026"
VILLAGE = "西沟村（示例）"
FIRE = "阳高乡靠前驻防消防队"
PHONE_NUMBER = "13812345678"


@pytest.fixture(scope="module")
def server(live_server: LiveServer) -> LiveServer:
    """The session's server with this walk's own accounts (other modules have theirs)."""
    for name, role, *department in (("zoushen", "moderator"),
                                    ("zouxiao", "officer", "FIRE")):
        extra = ["--department", department[0]] if department else []
        live_server.flask("users", "create", name, "--role", role, *extra,
                          input=f"{PASSWORD}\n{PASSWORD}\n")
    return live_server


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "IMG_20261201_090000.jpg"
    path.write_bytes(images.jpeg_with_gps((1200, 900)))
    return path


def _page(browser, viewport: dict):
    phone = viewport is PHONE
    context = browser.new_context(viewport=viewport, device_scale_factor=1, locale="zh-CN",
                                  is_mobile=phone, has_touch=phone)
    return context.new_page()


def _no_violations(page, where: str) -> None:
    found = axe_violations(page)
    assert found == [], f"{where}: {found}"
    if page.viewport_size == PHONE:
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= PHONE["width"], f"{where}: scrolls sideways on a phone ({wide} px)"


def _sign_in(page, url: str, username: str) -> None:
    page.goto(url + "/admin/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda address: "/admin/login" not in address)


def _flash(page, text: str) -> None:
    sync_api.expect(page.locator(".flash").first).to_contain_text(text)


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_casework_walk(server, browser, photo, size: dict) -> None:
    url = server.url
    unit = f"走查超市{size['width']}"

    # -- A resident reports a blocked exit with a photo, naming the owner and his phone.
    resident = _page(browser, size)
    resident.goto(url + "/report")
    resident.get_by_label("所在村").select_option(label=f"{VILLAGE}（阳高乡）")  # county form
    resident.get_by_label("单位或场所名称").fill(unit)
    resident.locator("label.choice", has_text="占堵生命通道/疏散通道").click()
    resident.get_by_label("隐患情况描述").fill(
        f"老板王五（电话{PHONE_NUMBER}）把后门用货物堵死了，晚上人很多。")
    resident.get_by_label("现场照片（可不传，最多 6 张）").set_input_files(str(photo))
    resident.get_by_role("button", name="提交举报").click()
    resident.get_by_role("heading", name="举报已提交，感谢您！").wait_for()
    code = resident.locator(".receipt-code").inner_text().strip()
    tip_id = server.query(f"SELECT id FROM tips WHERE unit_name = '{unit}'")[0][0]  # noqa: S608

    # -- The moderator asks a question; the resident answers it from the tracking page.
    moderator = _page(browser, size)
    _sign_in(moderator, url, "zoushen")
    moderator.goto(url + f"/admin/tips/{tip_id}")
    moderator.get_by_label("向举报人提问").fill("请问后门现在还堵着吗？")
    moderator.get_by_role("button", name="发送").click()
    moderator.wait_for_load_state()
    resident.goto(url + "/track")
    resident.get_by_label("16 位查询码").fill(code)
    resident.get_by_role("button", name="查询").click()
    resident.wait_for_url("**/track/status")
    resident.get_by_label("补充说明或回复").fill("还堵着，今天早上又看了一眼。")
    resident.get_by_role("button", name="发送").click()
    resident.wait_for_load_state()

    # -- The queue marks the reply and puts it above the urgent tips nobody answered.
    moderator.goto(url + "/admin/queue")
    rows = moderator.locator("li.queue-row")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    ours = next(i for i, text in enumerate(texts) if unit in text)
    assert "居民已回复" in texts[ours]
    assert all(i > ours for i, text in enumerate(texts)
               if "紧急" in text and "居民已回复" not in text), texts
    sync_api.expect(rows.nth(ours).locator(".tag", has_text="居民已回复")).to_be_visible()
    _no_violations(moderator, "queue")

    # -- The moderator takes the owner's name out, accepts, and edits the department's summary.
    moderator.goto(url + f"/admin/tips/{tip_id}")
    moderator.get_by_label("举报内容（修改后）").fill(
        f"老板（电话{PHONE_NUMBER}）把后门用货物堵死了，晚上人很多。")
    moderator.get_by_role("button", name="保存修改").click()
    moderator.wait_for_load_state()
    moderator.get_by_role("button", name="受理并立案").click()
    moderator.wait_for_url("**/admin/route/*")
    summary = moderator.get_by_label("交给部门的情况摘要")
    drafted = summary.input_value()
    assert "把后门用货物堵死了" in drafted and "138********" in drafted
    assert "王五" not in drafted and PHONE_NUMBER not in drafted
    assert "这就是部门将看到的内容" in moderator.locator("#route").inner_text()
    _no_violations(moderator, "routing")
    summary.fill(drafted + "\n请24小时内到场核查。")
    moderator.get_by_role("button", name="确认分派").click()
    _flash(moderator, f"已派给{FIRE}牵头办理")
    case_id = server.query(f"SELECT case_id FROM tips WHERE id = {tip_id}")[0][0]  # noqa: S608

    # -- The fire station reads exactly that summary, checks on site and confirms.
    officer = _page(browser, size)
    _sign_in(officer, url, "zouxiao")
    officer.goto(url + f"/admin/desk/cases/{case_id}")
    body = officer.locator("main").inner_text()
    assert "请24小时内到场核查。" in body and "138********" in body
    assert PHONE_NUMBER not in body and "王五" not in body
    assert "还堵着" not in body, "the resident's messages stay with the office"
    _no_violations(officer, "desk case")
    officer.get_by_role("button", name="签收").click()
    _flash(officer, "已签收")
    officer.get_by_label("属实：隐患存在，转入整改").check()
    officer.get_by_label("核查情况（内部）").fill("现场核实：后门堆放货物，出口不通。")
    officer.get_by_role("button", name="提交核查结果").click()
    _flash(officer, "已登记核查属实")

    # -- The moderator discloses it and ticks the resident's photo for publication.
    moderator.goto(url + f"/admin/disclosures/{case_id}")
    moderator.get_by_label("公示内容（具体问题）").fill("超市后门堆放货物堵塞安全出口。")
    moderator.get_by_role("checkbox", name=re.compile("举报照片")).check()
    moderator.get_by_role("button", name="预览").click()
    assert moderator.locator("section.preview").get_by_role("img").count() == 1
    moderator.get_by_role("button", name="公开").click()
    sync_api.expect(moderator.get_by_role("heading", level=1)).to_contain_text("已于")

    # -- An anonymous visitor sees the photo load on the unit's public page.
    visitor = _page(browser, size)
    unit_id = server.query(f"SELECT unit_id FROM cases WHERE id = {case_id}")[0][0]  # noqa: S608
    visitor.goto(url + f"/disclosures/unit/{unit_id}")
    assert "堵塞安全出口" in visitor.locator("main").inner_text()
    published = visitor.get_by_role("img", name=re.compile("照片")).first
    published.scroll_into_view_if_needed()
    sync_api.expect(published).to_have_js_property("complete", True)
    assert published.evaluate("img => img.naturalWidth") > 0, "the published photo loads"
    link = published.evaluate("img => img.closest('a') ? img.closest('a').href : ''")
    if link:
        assert visitor.request.get(link).status == 200
    _no_violations(visitor, "unit page")

    for page in (resident, moderator, officer, visitor):
        page.context.close()
