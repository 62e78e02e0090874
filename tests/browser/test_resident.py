"""A resident on a phone: report, receipt, tracking; without JavaScript; mistakes."""

from __future__ import annotations

import re

import pytest

from tests import images
from tests.browser.conftest import axe_violations, screenshot, sync_api


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "IMG_20261128_183000.jpg"
    path.write_bytes(images.jpeg_with_gps((1600, 1200)))
    return path


def _fill_report(page, unit: str, *, urgent: bool = True) -> None:
    page.get_by_label("所在村").select_option(label="东庄村（示例）（阳高乡）")  # county form
    page.get_by_label("单位或场所名称").fill(unit)
    page.get_by_label("场所类型（可不选）").select_option(label="沿街商铺")
    page.get_by_label("详细地址或附近标志物（可不填）").fill("村委会对面")
    category = "占堵生命通道/疏散通道" if urgent else "电气线路铺设不规范"
    page.locator("label.choice", has_text=category).click()
    page.get_by_label("隐患情况描述").fill("超市后门被货物堵死，安全出口还上了锁，晚上人很多。")


def _receipt(page) -> str:
    text = page.locator(".receipt-code").inner_text()
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", text.strip())
    return text.strip()


def _tip_count(live_server, unit: str) -> int:
    return live_server.query(f"SELECT count(*) FROM tips WHERE unit_name = '{unit}'")[0][0]  # noqa: S608


def test_a_resident_reports_with_a_photo_and_follows_it(live_server, phone, photo) -> None:
    page = phone
    page.goto(live_server.url + "/")
    screenshot(page, "home-phone")
    page.get_by_role("link", name="我要举报").first.click()
    _fill_report(page, "平安超市")
    page.get_by_label("现场照片（可不传，最多 6 张）").set_input_files(str(photo))
    screenshot(page, "report-phone")
    page.get_by_role("button", name="提交举报").click()
    page.get_by_role("heading", name="举报已提交，感谢您！").wait_for()
    code = _receipt(page)
    assert "24 小时内" in page.content()
    screenshot(page, "receipt-phone")
    assert _tip_count(live_server, "平安超市") == 1

    page.goto(live_server.url + "/track")
    page.get_by_label("16 位查询码").fill(code)
    page.get_by_role("button", name="查询").click()
    page.wait_for_url("**/track/status")
    assert "等待审核" in page.content()
    screenshot(page, "track-phone")


def test_the_form_works_without_javascript(live_server, browser) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390,
                                                                      "height": 844})
    page = context.new_page()
    page.goto(live_server.url + "/report")
    assert page.locator("#locate-button").is_hidden(), "no location button without JS"
    _fill_report(page, "无脚本小卖部", urgent=False)
    page.get_by_role("button", name="提交举报").click()
    page.get_by_role("heading", name="举报已提交，感谢您！").wait_for()
    _receipt(page)
    assert _tip_count(live_server, "无脚本小卖部") == 1
    context.close()


def test_mistakes_are_shown_next_to_the_field_and_nothing_is_lost(live_server, phone) -> None:
    page = phone
    page.goto(live_server.url + "/report")
    _fill_report(page, "出错了的店")
    page.get_by_label("隐患情况描述").fill("太短")
    page.get_by_label("联系电话（可不填）").fill("12345")
    page.get_by_role("button", name="提交举报").click()
    summary = page.locator("#error-summary")
    sync_api.expect(summary).to_be_visible()
    sync_api.expect(summary).to_be_focused()  # errors are announced: the summary takes focus
    assert "至少 10 个字" in page.locator("#description-error").inner_text()
    assert "请填写正确的手机号" in page.locator("#reporter_phone-error").inner_text()
    assert page.get_by_label("单位或场所名称").input_value() == "出错了的店"
    assert page.locator("#description").get_attribute("aria-invalid") == "true"
    assert _tip_count(live_server, "出错了的店") == 0


def test_a_wrong_receipt_code_gets_one_plain_message(live_server, phone) -> None:
    phone.goto(live_server.url + "/track")
    phone.get_by_label("16 位查询码").fill("1234 5678 9012 3456")
    phone.get_by_role("button", name="查询").click()
    assert "查询码不正确" in phone.locator("#code-error").inner_text()


def test_an_urgent_category_shows_the_119_notice(live_server, phone) -> None:
    phone.goto(live_server.url + "/report")
    notice = phone.locator("#urgent-notice")
    assert notice.is_hidden()
    phone.locator("label.choice", has_text="消防设施损坏停用").click()
    assert notice.is_visible() and "119" in notice.inner_text()
    phone.locator("label.choice", has_text="违章搭建").click()
    assert notice.is_hidden()


def test_a_double_tap_on_submit_creates_one_tip(live_server, phone) -> None:
    page = phone
    page.goto(live_server.url + "/report")
    _fill_report(page, "双击测试店")
    button = page.get_by_role("button", name="提交举报")
    button.dblclick()
    page.get_by_role("heading", name="举报已提交，感谢您！").wait_for()
    assert _tip_count(live_server, "双击测试店") == 1


@pytest.mark.parametrize("path", ["/", "/report", "/track"])
def test_public_pages_have_no_serious_accessibility_violations(live_server, desktop, path):
    desktop.goto(live_server.url + path)
    assert axe_violations(desktop) == []


def test_the_report_form_with_errors_has_no_serious_violations(live_server, phone) -> None:
    phone.goto(live_server.url + "/report")
    phone.get_by_role("button", name="提交举报").click()
    assert axe_violations(phone) == []


def test_the_form_can_be_completed_with_the_keyboard(live_server, desktop) -> None:
    page = desktop
    page.goto(live_server.url + "/report")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "跳到正文"
    page.locator("#village").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    page.keyboard.type("键盘商店")
    page.locator("#category-0").focus()
    page.keyboard.press("Space")
    page.locator("#description").focus()
    page.keyboard.type("全程只用键盘填写这份举报，确认可以提交。")
    page.locator("#report-submit").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="举报已提交，感谢您！").wait_for()
    assert _tip_count(live_server, "键盘商店") == 1


def test_typing_in_the_village_box_narrows_the_county_wide_list(live_server, phone) -> None:
    """County-wide the form lists every village of every township; typing a village's or a
    township's name leaves only those and picks the first (without the script: a plain
    select, test_the_form_works_without_javascript)."""
    page = phone
    page.goto(live_server.url + "/report")

    def shown() -> list[str]:
        return page.eval_on_selector_all(
            "#village option", "os => os.filter(o => o.value && !o.hidden).map(o => o.text)")

    everything = shown()
    assert len(everything) > 6 and any("北社乡" in v for v in everything)
    page.get_by_label("筛选村名").fill("东庄")
    narrowed = shown()
    assert narrowed and all("东庄" in v for v in narrowed) and len(narrowed) < len(everything)
    assert len({v.split("（")[-1] for v in narrowed}) > 1, "the same name in two townships"
    chosen = page.eval_on_selector("#village", "s => s.options[s.selectedIndex].text")
    assert chosen == narrowed[0]
    page.get_by_label("筛选村名").fill("北社")
    assert shown() and all("北社乡" in v for v in shown())
    page.get_by_label("筛选村名").fill("")
    assert shown() == everything
