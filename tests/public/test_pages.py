from __future__ import annotations

from flask import Flask, abort
from sqlalchemy.exc import OperationalError

from portal import create_app
from tests.conftest import TEST_SECRET


def test_home_page_is_in_chinese_and_names_the_township(client) -> None:
    page = client.get("/t/yanggao/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in html
    assert "平顺县阳高乡消防隐患举报与公示平台" in html
    assert "24 小时内" in html and "3 个工作日内" in html
    assert "演示环境" in html, "sample data is announced"
    # The county's home names the county alone and lists its townships (issue 18).
    county = client.get("/").get_data(as_text=True)
    assert "平顺县消防隐患举报与公示平台" in county and "平顺县阳高乡" not in county
    for code, name in (("yanggao", "阳高乡"), ("beishe", "北社乡（示例）"),
                       ("xigou", "西沟乡（示例）")):
        assert f'<a href="/t/{code}/">{name}</a>' in county


def test_healthz_checks_the_database(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_when_the_database_is_gone(tmp_path) -> None:
    app = create_app({"ENV": "testing", "SECRET_KEY": TEST_SECRET,
                      "DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/x.db"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.json["status"] == "error"


def _error_app(tmp_path) -> Flask:
    app = create_app({"ENV": "testing", "SECRET_KEY": TEST_SECRET,
                      "DATABASE_URL": f"sqlite:///{tmp_path}/e.db",
                      "MAX_CONTENT_LENGTH": 100})

    @app.route("/boom/<int:code>", methods=["GET", "POST"])
    def boom(code: int):
        if code == 500:
            raise RuntimeError("secret internals")
        if code == 999:
            raise OperationalError("SELECT secret", {}, Exception("db down"))
        abort(code)

    return app


def test_every_error_page_is_in_chinese_without_a_stack_trace(tmp_path) -> None:
    client = _error_app(tmp_path).test_client()
    expected = {400: "请求有误", 403: "无权访问", 404: "页面不存在", 413: "提交的内容过大",
                429: "操作过于频繁", 500: "系统出现错误"}
    for code, title in expected.items():
        response = client.get(f"/boom/{code}")
        html = response.get_data(as_text=True)
        assert response.status_code == code
        assert title in html and "Traceback" not in html and "secret" not in html
    response = client.get("/boom/999")  # the database is unreachable
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and "服务暂不可用" in html and "SELECT secret" not in html
    assert response.headers["Retry-After"] == "5"


def test_unknown_page_wrong_method_and_oversized_body(tmp_path) -> None:
    client = _error_app(tmp_path).test_client()
    assert "页面不存在" in client.get("/no-such-page").get_data(as_text=True)
    response = client.post("/healthz")
    assert response.status_code == 405 and "操作方式不正确" in response.get_data(as_text=True)
    response = client.post("/boom/404", data={"x": "y" * 500})
    assert response.status_code in (400, 413)


def test_a_post_without_csrf_token_is_refused_in_chinese(client) -> None:
    response = client.post("/")
    assert response.status_code in (400, 405)
