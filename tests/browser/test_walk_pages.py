"""Issue 17's browser walk, at a phone's width and a desktop's: no public page scrolls
sideways on a phone, the audit log reads in Chinese, the routing preview's labels sit beside
their fields, the back office's refusal keeps the staff menu, the missing-schedule warning
is for admins only, and the ledger's checkbox labels stay on one line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from portal.config import ROOT
from tests.browser.conftest import DESKTOP, PHONE, LiveServer

PASSWORD = "walk-pass-2026-OK-long"
SIZES = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of this module's own, with disclosed cases (the journey's server starts
    empty and its tests count what they add)."""
    live = LiveServer(tmp_path_factory.mktemp("walk"))
    live.start()
    subprocess.run([sys.executable, "-m", "bench.seed", "--cases", "40",
                    "--database-url", f"sqlite:///{live.db_path}"],
                   cwd=ROOT, env=live.env, check=True, capture_output=True)
    live.flask("ledger", "recount")
    for name, role, *department in (("walk_admin", "admin"), ("walk_sup", "supervisor"),
                                    ("walk_fire", "officer", "FIRE")):
        extra = ["--department", department[0]] if department else []
        live.flask("users", "create", name, "--role", role, *extra,
                   input=f"{PASSWORD}\n{PASSWORD}\n")
    yield live
    live.stop()


def _page(browser, viewport: dict):
    phone = viewport is PHONE
    context = browser.new_context(viewport=viewport, device_scale_factor=1, locale="zh-CN",
                                  is_mobile=phone, has_touch=phone)
    return context.new_page()


def _sign_in(page, server: LiveServer, username: str) -> None:
    page.goto(server.url + "/admin/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda address: "/admin/login" not in address)


def _public_pages(server: LiveServer) -> list[str]:
    ((unit_id,),) = server.query("SELECT unit_id FROM cases WHERE disclosed LIMIT 1")
    return ["/", "/report", "/disclosures", f"/disclosures/unit/{unit_id}", "/track",
            "/bulletins", "/checks", "/warnings", "/selfcheck"]


WIDER_THAN_VIEWPORT = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
              (e.className && typeof e.className === 'string' ? '.' + e.className : ''))
    .slice(0, 8)"""


def test_no_public_page_scrolls_sideways_on_a_phone(server: LiveServer, browser) -> None:
    page = _page(browser, PHONE)
    for path in _public_pages(server):
        response = page.goto(server.url + path)
        assert response is not None and response.status == 200, path
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= PHONE["width"], (
            f"{path} scrolls sideways at 390 px ({wide} px): {page.evaluate(WIDER_THAN_VIEWPORT)}")
    page.context.close()


@SIZES
def test_the_audit_log_reads_in_chinese(server: LiveServer, browser, viewport: dict) -> None:
    page = _page(browser, viewport)
    _sign_in(page, server, "walk_admin")
    page.goto(server.url + "/admin/audit")
    first = page.locator("table.audit tbody tr").first
    assert first.locator(".audit-action").inner_text().strip() != ""
    actions = page.locator("td.audit-action").all_inner_texts()
    assert "登录后台" in actions and "新建用户" in actions
    assert not any("." in a for a in actions), actions
    created = page.locator("tr", has=page.locator("td.audit-action", has_text="新建用户")).first
    assert created.locator(".audit-fields dt", has_text="用户名").is_visible()
    raw = created.locator("details.audit-raw")
    assert not raw.locator("pre").first.is_visible()  # behind the toggle until opened
    raw.locator("summary").click()
    assert "username" in raw.locator("pre").first.inner_text()
    page.context.close()


@SIZES
def test_the_routing_preview_labels_sit_beside_their_fields(server: LiveServer, browser,
                                                            viewport: dict) -> None:
    page = _page(browser, viewport)
    _sign_in(page, server, "walk_admin")
    page.goto(server.url + "/admin/routing")
    for name in ("category", "venue_type", "village"):
        label = page.locator(f"label[for='preview-{name}']").bounding_box()
        select = page.locator(f"#preview-{name}").bounding_box()
        assert label and select
        middle = label["y"] + label["height"] / 2
        assert select["y"] <= middle <= select["y"] + select["height"], (name, label, select)
        assert label["x"] + label["width"] <= select["x"] + 1, (name, label, select)
    if viewport is PHONE:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.context.close()


@SIZES
def test_a_refusal_in_the_back_office_keeps_the_staff_menu(server: LiveServer, browser,
                                                           viewport: dict) -> None:
    page = _page(browser, viewport)
    _sign_in(page, server, "walk_fire")
    response = page.goto(server.url + "/admin/users")
    assert response is not None and response.status == 403
    assert page.get_by_role("navigation", name="后台导航").is_visible()
    assert page.get_by_role("navigation", name="主导航").count() == 0
    page.get_by_role("link", name="返回后台首页").click()
    page.wait_for_load_state()
    assert "/admin" in page.url and page.get_by_role("navigation", name="后台导航").is_visible()
    page.context.close()


def _year_missing(page, server: LiveServer) -> bool:
    """Whether this year's or next year's schedule is missing, as the calendar screen says."""
    page.goto(server.url + "/admin/calendar")
    return "尚未录入" in page.locator("main").inner_text()


@SIZES
def test_the_missing_schedule_warning_is_for_admins_only(server: LiveServer, browser,
                                                         viewport: dict) -> None:
    admin = _page(browser, viewport)
    _sign_in(admin, server, "walk_admin")
    missing = _year_missing(admin, server)
    admin.goto(server.url + "/admin/users")
    warning = admin.locator(".calendar-warning")
    if missing:
        assert warning.count() >= 1 and warning.first.is_visible()
        assert warning.first.get_by_role("link", name="录入放假安排").get_attribute(
            "href") == "/admin/calendar"
    else:
        assert warning.count() == 0
    admin.context.close()
    supervisor = _page(browser, viewport)
    _sign_in(supervisor, server, "walk_sup")
    for path in ("/admin/supervision", "/admin/ledger", "/admin/closures"):
        supervisor.goto(server.url + path)
        assert supervisor.locator(".calendar-warning").count() == 0, path
    supervisor.context.close()
    if not missing:
        pytest.skip("every schedule this year and next is known: nothing to warn about")


@SIZES
def test_the_ledger_checkbox_labels_stay_on_one_line(server: LiveServer, browser,
                                                     viewport: dict) -> None:
    page = _page(browser, viewport)
    _sign_in(page, server, "walk_sup")
    page.goto(server.url + "/admin/ledger")
    labels = page.locator(".ledger-filters label.check")
    assert labels.count() >= 3
    for i in range(labels.count()):
        box = labels.nth(i).bounding_box()
        line = labels.nth(i).evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
        assert box and box["height"] < 2 * line, (labels.nth(i).inner_text(), box, line)
    page.context.close()
