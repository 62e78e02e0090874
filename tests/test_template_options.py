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
