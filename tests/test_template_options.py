"""The options of a select, drawn once per list and choice (portal.templating.options)."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.templating import options
from tests import factories


def test_the_chosen_option_is_marked_and_every_label_escaped() -> None:
    html = str(options([(1, "东村"), (2, "<西村>"), (3, "南村")], 2))
    assert html == ('<option value="1">东村</option>'
                    '<option value="2" selected>&lt;西村&gt;</option>'
                    '<option value="3">南村</option>')
    assert "selected" not in str(options([(1, "东村")], None))


def test_the_list_page_keeps_the_village_chosen(client: FlaskClient,
                                                db_session: Session) -> None:
    page = client.get("/disclosures").get_data(as_text=True)
    assert 'selected' not in page.split('id="village"')[1].split("</select>")[0]
    village = factories.village(db_session, "V02")
    chosen = client.get(f"/disclosures?village={village.id}").get_data(as_text=True)
    select = chosen.split('id="village"')[1].split("</select>")[0]
    assert f'<option value="{village.id}" selected>' in select
    assert select.count("selected") == 1


def test_an_id_address_is_what_url_for_builds(app) -> None:
    """id_url completes a prefix url_for built once: the same address for every id, the
    township kept, and an address whose id is not last built by url_for itself."""
    from flask import g, url_for

    from portal.templating import id_url
    for path in ("/disclosures", "/t/yanggao/disclosures"):
        with app.test_request_context(path, base_url="http://127.0.0.1"):
            app.preprocess_request()
            for unit_id in (1, 7, 12345):
                assert id_url("public.disclosure_unit", "unit_id", unit_id) == url_for(
                    "public.disclosure_unit", unit_id=unit_id)
            if path.startswith("/t/"):
                assert g.township.code == "yanggao"
                assert id_url("public.disclosure_unit", "unit_id", 3).startswith("/t/yanggao/")
            assert id_url("admin.desk_accept", "case_id", 5) == url_for(
                "admin.desk_accept", case_id=5) == "/admin/desk/cases/5/accept"
