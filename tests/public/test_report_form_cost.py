"""What the report form costs: it is the busiest page and the busiest write, so it draws the same
markup as WTForms with less work, reads its vocabularies once per audited change, and a report
reads its village, category and submission key once."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import Markup
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from wtforms import widgets
from wtforms.widgets import html_params

from portal.db import database
from portal.domain.administration import vocabulary
from portal.domain.models import Tip, Village
from portal.public.forms import ReportForm, attributes
from portal.web.caching import forget_versions
from tests import factories
from tests.public.test_report import _form, _post


@pytest.fixture(autouse=True)
def _app_context(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture
def lag(app: Flask) -> Iterator[float]:
    """Public pages may lag by PUBLIC_CACHE_SECONDS, as in production (the suite runs at 0)."""
    app.config["PUBLIC_CACHE_SECONDS"] = 0.5
    try:
        yield 0.5
    finally:
        app.config["PUBLIC_CACHE_SECONDS"] = 0
        forget_versions()


def _statements(app: Flask, call) -> tuple[list[str], object]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(" ".join(statement.split()))

    engine = database(app).engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        result = call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return [s for s in seen if not s.startswith(("SAVEPOINT", "RELEASE"))], result


HOSTILE = ['a "quoted" <b>&amp; \'x\'', Markup('<i title="x">safe</i>'), "", "普通文字"]


@pytest.mark.parametrize("value", HOSTILE)
def test_attributes_are_written_exactly_as_wtforms_writes_them(value) -> None:
    kwargs = {"id": "x", "value": value, "required": True, "disabled": False,
              "aria_describedby": value, "data_min": 10, "class_": "wide", "maxlength": 100}
    assert attributes(**kwargs) == html_params(**kwargs)


@pytest.mark.parametrize("value", HOSTILE)
def test_every_field_of_the_form_draws_what_wtforms_draws(app: Flask, value) -> None:
    with app.test_request_context("/report", method="POST", data={
            "village": "2", "venue_type": "", "unit_name": value, "address": value,
            "description": value, "observed_at": value, "reporter_name": value,
            "reporter_phone": value, "wants_feedback": "y", "lat": value, "kept_photos": value}):
        form = ReportForm()
        form.village.choices = [("", "请选择"), (1, '东庄村（阳高乡 "甲"）'), (2, "<西沟村>")]
        form.venue_type.choices = [("", "不确定"), (3, "沿街商铺")]
        stock = {"village": widgets.Select(), "venue_type": widgets.Select(),
                 "description": widgets.TextArea(), "wants_feedback": widgets.CheckboxInput(),
                 "photos": widgets.FileInput(multiple=True)}
        for field in form:
            if field.name in ("csrf_token", "category"):
                continue
            wtforms = stock.get(field.name) or (
                widgets.HiddenInput() if field.type == "HiddenField" else widgets.TextInput())
            for kwargs in ({}, {"aria_describedby": f"{field.name}-hint", "required": True,
                                "aria_invalid": "true", "maxlength": 100}):
                assert field(**kwargs) == wtforms(field, **kwargs), field.name
        assert '<option selected value="2">&lt;西沟村&gt;</option>' in form.village()


def test_with_a_lag_allowed_the_form_reads_no_database_and_a_change_still_shows(
        app: Flask, client: FlaskClient, db_session: Session, lag: float) -> None:
    client.get("/report")
    queries, response = _statements(app, lambda: client.get("/report"))
    assert response.status_code == 200
    assert queries == [], "villages, venue types, categories and the county's name are kept"

    township = factories.village(db_session, "V01").township
    vocabulary.save_coded(db_session, "village", None, code="NEWV", actor=None, name="新设村",
                          township_id=township.id, active=True, sort_order=99)
    db_session.flush()
    time.sleep(lag + 0.1)  # the data version's own lag
    assert "新设村" in client.get("/report").get_data(as_text=True), \
        "an audited change is seen once the lag has passed"


def test_a_village_closed_within_the_lag_is_refused_on_submit(
        client: FlaskClient, db_session: Session, lag: float) -> None:
    data = _form(client, db_session)  # the form, drawn while the village was open
    village = db_session.get(Village, int(data["village"]))
    village.active = False
    db_session.flush()
    assert f'value="{village.id}"' in client.get("/report").get_data(as_text=True), \
        "still drawn within the lag"
    response = _post(client, data)
    assert response.status_code == 422
    assert "请选择隐患所在的村" in response.get_data(as_text=True)


def test_a_report_reads_its_key_village_and_category_once(
        app: Flask, client: FlaskClient, db_session: Session) -> None:
    data = _form(client, db_session)
    queries, response = _statements(app, lambda: _post(client, data))
    assert response.status_code == 200
    assert "查询码" in response.get_data(as_text=True)
    by_key = [q for q in queries if re.search(r"FROM tips WHERE tips.submission_key", q)]
    villages = [q for q in queries if re.search(r"FROM villages\b", q)]
    categories = [q for q in queries if re.search(r"FROM categories\b", q)]
    assert (len(by_key), len(villages), len(categories)) == (1, 1, 1), queries


def test_a_refused_field_names_its_hint_and_error_for_screen_readers(
        client: FlaskClient, db_session: Session) -> None:
    response = _post(client, _form(client, db_session, unit_name="", reporter_phone="12"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert ('<div class="field has-error">\n  <label for="unit_name">单位或场所名称'
            '<span class="req" aria-hidden="true"> *</span></label>\n'
            '<p class="hint" id="unit_name-hint">') in html
    assert ('</p><p class="field-error" id="unit_name-error">请填写单位或场所名称'
            in html.replace("</p>  <p", "</p><p"))
    assert re.search(r'<input aria-describedby="unit_name-hint unit_name-error" '
                     r'aria-invalid="true" autocomplete="off" id="unit_name" maxlength="100" '
                     r'name="unit_name" required type="text" value="">', html)
    assert re.search(r'<input aria-describedby="reporter_phone-hint reporter_phone-error" '
                     r'aria-invalid="true" autocomplete="tel" id="reporter_phone"', html)
    assert re.search(r'<select id="village" name="village" required><option value="">请选择'
                     r'</option>.*<option selected value="\d+">', html)


def test_with_a_lag_allowed_a_confirmation_names_the_office_without_reading_it_again(
        app: Flask, client: FlaskClient, db_session: Session, lag: float) -> None:
    office = re.compile(r"<li>([^<]+)审核您的举报")
    first = _post(client, _form(client, db_session))
    data = _form(client, db_session)
    queries, second = _statements(app, lambda: _post(client, data))
    assert first.status_code == second.status_code == 200
    named = office.search(first.get_data(as_text=True)).group(1)
    assert named != "乡消安办", "the township's own office is named"
    assert office.search(second.get_data(as_text=True)).group(1) == named
    assert not [q for q in queries if "FROM departments" in q]


def _one_time_values(page: str) -> tuple[str, str]:
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page)
    assert token and key, "the form carries its CSRF token and submission key"
    return token.group(1), key.group(1)


def test_a_form_drawn_once_still_gives_every_view_its_own_one_time_values(
        app: Flask, client: FlaskClient, db_session: Session, lag: float) -> None:
    first = client.get("/report").get_data(as_text=True)
    other = app.test_client()
    second = other.get("/report").get_data(as_text=True)
    # The same drawing (the vocabularies'), new values for each view and each browser.
    assert first.replace(_one_time_values(first)[0], "").replace(_one_time_values(first)[1], "") \
        == second.replace(_one_time_values(second)[0], "").replace(_one_time_values(second)[1], "")
    assert _one_time_values(first)[1] != _one_time_values(second)[1]
    assert "SLOT0000" not in first + second
    # A report sent from a form drawn from the kept page is taken, once.
    data = _form(client, db_session)
    assert _post(client, data).status_code == 200
    assert _post(client, data).status_code == 200  # the same form again: the same receipt
    assert db_session.scalar(select(func.count()).select_from(Tip).where(
        Tip.unit_name == "平安超市")) == 1


def test_staff_writes_leave_one_kept_form_per_township_not_one_per_write(
        app: Flask, client: FlaskClient, db_session: Session, lag: float) -> None:
    from portal.web import caching

    township = factories.village(db_session, "V01").township
    for n in range(3):
        # Any audited write is a new version: the form is drawn again, the old one dropped.
        vocabulary.save_coded(db_session, "village", None, code=f"KEEP{n}", actor=None,
                              name=f"新设村{n}", township_id=township.id, active=True,
                              sort_order=99)
        db_session.flush()
        time.sleep(lag + 0.1)
        assert f"新设村{n}" in client.get("/report").get_data(as_text=True)
        client.get("/t/yanggao/report")
    forms = [key for key in caching._by_audit if key[0] == "report form page"]
    assert len(forms) == len(set(forms)) == 2  # the county's form and 阳高乡's
