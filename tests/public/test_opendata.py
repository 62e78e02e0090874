from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

from flask import Flask
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.disclosure.publication import withdraw_disclosure
from portal.domain.enums import AttachmentKind, Channel, Severity, TipStatus
from portal.domain.models import Attachment, Case
from portal.domain.reporting.intake import TipInput, submit_tip
from portal.identity import cipher, receipt_key
from portal.public.opendata import FIELDS
from tests.conftest import repo_path
from tests.factories import category, village
from tests.public.test_disclosures import disclosed, moderator

ATOM = "{http://www.w3.org/2005/Atom}"


def documented_fields() -> list[str]:
    text = repo_path("docs", "open-data.md").read_text(encoding="utf-8")
    section = text.split("## Fields", 1)[1].split("##", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)


def test_the_documented_fields_are_the_exported_fields() -> None:
    assert documented_fields() == list(FIELDS)


def test_the_json_validates_against_the_documented_fields(client, db_session: Session) -> None:
    case = disclosed(db_session, "JSON商店", summary="消防设施损坏", severity=Severity.MAJOR)
    response = client.get("/disclosures.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert 'rel="license"' in response.headers["Link"]
    data = json.loads(response.get_data(as_text=True))
    assert "CC BY 4.0" in data["licence"]["name"] and data["licence"]["url"].startswith("https")
    assert data["fields"] == documented_fields()
    assert len(data["cases"]) == 1
    row = data["cases"][0]
    assert list(row) == documented_fields()
    types = {"id": int, "unit_id": int, "overdue": bool}
    for name, value in row.items():
        if name == "rectify_by":
            assert value is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)
        else:
            assert isinstance(value, types.get(name, str)), name
    assert row["id"] == case.id and row["unit_name"] == "JSON商店"
    assert row["severity"] == "major" and row["severity_label"] == "重大隐患"
    assert row["summary"] == "消防设施损坏"
    assert row["url"].endswith(f"/disclosures/unit/{case.unit_id}")
    assert client.get("/open-data").status_code == 200


def test_the_csv_has_the_documented_header_and_one_row_per_case(
    client, db_session: Session,
) -> None:
    mod = moderator(db_session)
    for name in ("CSV一号", "CSV二号"):
        disclosed(db_session, name, actor=mod)
    response = client.get("/disclosures.csv")
    assert response.mimetype == "text/csv"
    text = response.get_data().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == documented_fields()
    assert sorted(r["unit_name"] for r in rows) == ["CSV一号", "CSV二号"]
    assert {r["overdue"] for r in rows} == {"false"}
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00", r["disclosed_at"])
               for r in rows)


def test_the_atom_feed_parses_and_lists_disclosures(client, db_session: Session) -> None:
    case = disclosed(db_session, "订阅商店", summary="违章搭建")
    response = client.get("/disclosures/feed.atom")
    assert response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.get_data())  # noqa: S314 (our own output)
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author", "rights"):
        assert feed.find(f"{ATOM}{required}") is not None, required
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 1
    entry = entries[0]
    assert "订阅商店" in entry.findtext(f"{ATOM}title")
    assert "违章搭建" in entry.findtext(f"{ATOM}summary")
    assert entry.findtext(f"{ATOM}id").endswith(f"#case-{case.id}")
    assert entry.find(f"{ATOM}link").get("href").endswith(f"/disclosures/unit/{case.unit_id}")
    assert entry.findtext(f"{ATOM}updated")


# ------------------------------------------------------------------ privacy scan

REPORTERS = [("欧阳秘密", "13912340001"), ("司马保密", "15887650002"), ("诸葛匿名", "0355-6280003")]


def _seed_reported_and_disclosed(app: Flask, db_session: Session) -> list[Case]:
    mod = moderator(db_session)
    cases = []
    with app.app_context():
        for i, (name, phone) in enumerate(REPORTERS):
            result = submit_tip(
                db_session,
                TipInput(
                    channel=Channel.WEB, village_id=village(db_session).id,
                    category_id=category(db_session).id, unit_name=f"被举报商店{i}",
                    description=f"门口堆满纸箱堵住出口。我是{name}，电话{phone}，请回电。",
                    reporter_name=name, reporter_phone=phone, wants_feedback=True,
                ),
                cipher=cipher(), receipt_key=receipt_key(),
            )
            tip = result.tip
            # The moderator copies the resident's words into the public summary: the
            # masking must still keep the phone out (names are the moderator's to remove).
            case = disclosed(db_session, f"被举报商店{i}", actor=mod,
                             summary=f"门口堆满纸箱堵住出口，电话{phone}。")
            tip.status, tip.case_id, tip.decided_at = TipStatus.ACCEPTED, case.id, utcnow()
            db_session.add(Attachment(stored_name=f"tipphoto{i}".ljust(32, "x"),
                                      kind=AttachmentKind.PHOTO, content_type="image/jpeg",
                                      size_bytes=1, sha256="4" * 64, tip_id=tip.id))
            db_session.flush()
            cases.append(case)
            cases.append(result.receipt_code)
    return cases


def _public_urls(client, cases: list) -> list[str]:
    urls = []
    for rule in client.application.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith("/admin"):
            urls.append(rule.rule)
    for case in cases:
        if isinstance(case, Case):
            urls.append(f"/disclosures/unit/{case.unit_id}")
            urls.append(f"/open311/v2/requests/{case.id}.json")
    urls += ["/disclosures/notice/V01", "/disclosures?q=被举报", "/open311/v2/requests.json",
             "/open311/v2/requests.xml", "/open311/v2/services.json"]
    return urls


def test_no_reporter_data_in_any_public_output(app, client, db_session: Session) -> None:
    seeded = _seed_reported_and_disclosed(app, db_session)
    receipts = [x for x in seeded if isinstance(x, str)]
    secrets = [s for pair in REPORTERS for s in pair] + receipts
    secrets += [r.replace("-", "") for r in receipts]
    secrets += ["6280003", "12340001", "87650002", "请回电"]
    scanned = 0
    for url in _public_urls(client, seeded):
        body = client.get(url).get_data(as_text=True)
        scanned += 1
        for secret in secrets:
            assert secret not in body, f"{secret!r} leaked on {url}"
    assert scanned > 15
    unit_page = client.get(f"/disclosures/unit/{seeded[0].unit_id}").get_data(as_text=True)
    assert "被举报商店0" in unit_page and "139********" in unit_page, "the scan saw the pages"


def test_withdrawn_cases_leave_the_exports(client, db_session: Session) -> None:
    mod = moderator(db_session)
    case = disclosed(db_session, "撤回导出商店", actor=mod)
    assert "撤回导出商店" in client.get("/disclosures.csv").get_data(as_text=True)
    withdraw_disclosure(db_session, case, actor=mod, reason="整改对象错误")
    for url in ("/disclosures.csv", "/disclosures.json", "/disclosures/feed.atom"):
        assert "撤回导出商店" not in client.get(url).get_data(as_text=True), url


def test_a_csv_cell_that_would_be_a_formula_is_written_as_text(
    client, db_session: Session,
) -> None:
    mod = moderator(db_session)
    disclosed(db_session, "=HYPERLINK(\"http://x\",\"点我\")", actor=mod)
    disclosed(db_session, "@SUM(A1)商店", actor=mod, summary="-2+3 消防设施损坏停用")
    text = client.get("/disclosures.csv").get_data().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    names = sorted(r["unit_name"] for r in rows)
    assert names == ["'=HYPERLINK(\"http://x\",\"点我\")", "'@SUM(A1)商店"]
    assert "'-2+3 消防设施损坏停用" in [r["summary"] for r in rows]
    data = json.loads(client.get("/disclosures.json").get_data(as_text=True))
    assert "=HYPERLINK(\"http://x\",\"点我\")" in [c["unit_name"] for c in data["cases"]], \
        "JSON is not a spreadsheet: its text stays as typed"
