"""Issue 22 in a real browser: a moderator imports a village's census into the register, a
supervisor plans a round over it, and a grid inspector works through the checklist of a
task on a phone, with a photo; the finding becomes a routed case."""

from __future__ import annotations

import datetime as dt

import pytest

from tests import images
from tests.browser.conftest import DESKTOP, PHONE, LiveServer, axe_violations, sync_api

PASSWORD = "inspection-walk-pass-2026"
CENSUS = ("村,名称,地址,场所类型,负责人,联系电话,风险等级\n"
          "V01,排查走查饭店,东街3号,餐馆饭店,王店主,13912340001,高\n"
          "V01,排查走查商店,东街5号,沿街商铺,李店主,13912340002,一般\n")


@pytest.fixture(scope="module")
def server(live_server: LiveServer) -> LiveServer:
    """The session's server with this walk's own accounts."""
    for name, role, *extra in (("paicha-mod", "moderator"), ("paicha-sup", "supervisor"),
                               ("paicha-grid", "grid_inspector", "--township", "yanggao")):
        live_server.flask("users", "create", name, "--role", role, *extra,
                          input=f"{PASSWORD}\n{PASSWORD}\n")
    return live_server


def _context(browser, viewport: dict):
    phone = viewport is PHONE
    return browser.new_context(viewport=viewport, device_scale_factor=1, locale="zh-CN",
                               is_mobile=phone, has_touch=phone)


def _sign_in(page, url: str, username: str) -> None:
    page.goto(url + "/admin/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda address: "/admin/login" not in address)


def test_a_round_over_the_census_worked_on_a_phone(server, browser, tmp_path) -> None:
    url = server.url
    census = tmp_path / "阳高村普查.csv"
    census.write_text(CENSUS, encoding="utf-8-sig")
    photo = tmp_path / "IMG_20261202_100000.jpg"
    photo.write_bytes(images.jpeg_with_gps((1600, 1200)))
    (yanggao,) = server.query("SELECT id FROM townships WHERE code = 'yanggao'")[0]
    (village,) = server.query("SELECT id FROM villages WHERE code = 'V01'")[0]
    (grid,) = server.query("SELECT id FROM users WHERE username = 'paicha-grid'")[0]

    desk = _context(browser, DESKTOP)
    page = desk.new_page()
    _sign_in(page, url, "paicha-mod")
    page.goto(url + "/admin/register/import")
    page.get_by_label("普查文件（.csv 或 .xlsx）").set_input_files(str(census))
    page.get_by_label("导入到乡镇").select_option(str(yanggao))
    page.get_by_label("试导入（只检查并列出将发生的变化，不保存）").uncheck()
    page.get_by_role("button", name="上传").click()
    sync_api.expect(page.locator("main")).to_contain_text("排查走查饭店")
    desk.close()

    desk = _context(browser, DESKTOP)
    page = desk.new_page()
    _sign_in(page, url, "paicha-sup")
    page.goto(url + "/admin/rounds/new")
    today = dt.date.today()
    page.get_by_label("排查名称").fill("冬季排查走查")
    page.get_by_label("乡镇").select_option(str(yanggao))
    page.get_by_label("村（不选为全部）").select_option(str(village))
    page.get_by_label("检查人员").select_option(str(grid))
    page.get_by_label("开始日期").fill(today.isoformat())
    page.get_by_label("结束日期").fill((today + dt.timedelta(days=14)).isoformat())
    page.get_by_role("button", name="部署").click()
    sync_api.expect(page.locator("main")).to_contain_text("冬季排查走查")
    desk.close()

    phone = _context(browser, PHONE)
    page = phone.new_page()
    _sign_in(page, url, "paicha-grid")
    page.goto(url + "/admin/tasks")
    page.get_by_role("link", name="排查走查饭店").first.click()
    sync_api.expect(page.locator("h1")).to_contain_text("排查走查饭店")
    assert axe_violations(page) == []
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= PHONE["width"], f"the task page scrolls sideways on a phone ({wide} px)"
    for radio in page.locator("input[type=radio][value=ok]").all():
        radio.check()
    page.locator("input[name='item-escape'][value='problem']").check()
    page.get_by_label("检查说明（可不填）").fill("后门通道堆放纸箱")
    page.get_by_label("现场照片（可多选，可直接拍照）").set_input_files(str(photo))
    page.get_by_role("button", name="登记检查结果").click()
    sync_api.expect(page.locator("main")).to_contain_text("发现问题已责令整改")
    # The task's page keeps the result, the case it opened and the photo (staff only).
    page.get_by_role("link", name="排查走查饭店").first.click()
    sync_api.expect(page.locator("main")).to_contain_text("已立案")
    sync_api.expect(page.locator("main img")).to_have_count(1)
    phone.close()

    [(status, channel, check_by)] = server.query(
        "SELECT c.status, c.channel, c.check_by FROM cases c JOIN units u ON u.id = c.unit_id "
        "WHERE u.name = '排查走查饭店'")
    assert (status, channel, check_by) == ("routed", "inspection", None)
    [(rule,)] = server.query(
        "SELECT k.rule FROM case_clocks k JOIN cases c ON c.id = k.case_id "
        "JOIN units u ON u.id = c.unit_id WHERE u.name = '排查走查饭店'")
    assert rule == "order"
