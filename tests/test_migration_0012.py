"""0012 turns a single-township database into a county of one township: every row stays, the
township's staff keep their logins and see what they saw, the county file adopts it, and the
upgrade goes back (and forward again) without losing a row."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from portal import create_app, migrate
from portal.db import database
from portal.domain.supervision import tallies
from tests.conftest import DEMO_JURISDICTION, TEST_FIELD_KEY, TEST_SECRET, csrf_token
from tests.test_migrations import SCRATCH_SCHEMA, empty_engine  # noqa: F401  (the fixture)

PASSWORD = "long enough staff pass 1"
T = "'2026-11-01 08:00:00'"
# The shape a tally takes changes in 0012; they are checked against a recount instead.
RESHAPED = {"category_tallies", "department_tallies"}

# A single-township portal at 0011 with a row in every table, as SQL of that schema.
ROWS_AT_0011 = [
    "INSERT INTO settings (key, value, updated_at) VALUES ('jurisdiction', "
    "'{\"name\": \"阳高乡\", \"county\": \"平顺县\", \"office_department\": \"XAB\", "
    "\"penalty_department\": \"ZFD\", \"contact\": \"0355-1234567\"}', @T)",
    "INSERT INTO categories (id, code, name, description, urgent, needs_penalty, active, "
    "sort_order) VALUES (1, 'wiring', '电气线路', '', false, false, true, 1)",
    "INSERT INTO venue_types (id, code, name, active, sort_order) "
    "VALUES (1, 'street_shop', '沿街门店', true, 1)",
    "INSERT INTO villages (id, code, name, active, sort_order, latitude, longitude) VALUES "
    "(1, 'V01', '阳高村', true, 1, 36.1, 113.4), (2, 'V02', '东庄村', true, 2, NULL, NULL)",
    "INSERT INTO departments (id, code, name, kind, contact, email, village_id, active) VALUES "
    "(1, 'XAB', '阳高乡消安办', 'safety_office', '', '', NULL, true), "
    "(2, 'FIRE', '阳高乡消防队', 'fire_station', '', '', NULL, true), "
    "(3, 'ZFD', '阳高乡综合行政执法队', 'law_enforcement', '', '', NULL, true), "
    "(4, 'VC-V01', '阳高村村委会', 'village_committee', '', '', 1, true)",
    "INSERT INTO users (id, username, display_name, password_hash, role, department_id, "
    "active, failed_logins, totp_required, password_changed_at, created_at) VALUES "
    "(1, 'admin', '管理员', 'x', 'admin', NULL, true, 0, false, @T, @T), "
    "(2, 'mod', '审核员', 'x', 'moderator', NULL, true, 0, false, @T, @T), "
    "(3, 'sup', '督办员', 'x', 'supervisor', NULL, true, 0, false, @T, @T), "
    "(4, 'fire', '消防队经办人', 'x', 'officer', 2, true, 0, false, @T, @T)",
    "INSERT INTO api_keys (id, partner, prefix, key_hash, created_at, created_by_id) "
    "VALUES (1, '网格平台', 'pk_abc', '@0', @T, 1)",
    "INSERT INTO routing_rules (id, category_id, venue_type_id, village_id, "
    "lead_department_id, priority, active, note) VALUES (1, 1, NULL, NULL, 2, 10, true, '电')",
    "INSERT INTO routing_rule_assists (rule_id, department_id) VALUES (1, 3)",
    "INSERT INTO units (id, name, normalized_name, venue_type_id, village_id, address, "
    "created_at) VALUES (1, '李家超市', '李家超市', 1, 1, '中心街 8 号', @T)",
    "INSERT INTO cases (id, unit_id, village_id, category_id, channel, severity, status, "
    "internal_summary, public_summary, supervision_level, routed_at, confirmed_at, "
    "rectify_by, rectify_notice_no, disclosed, created_by_id, created_at, updated_at, "
    "version) VALUES (1, 1, 1, 1, 'web', 'general', 'rectifying', '电线乱拉', '', 'county', "
    "@T, @T, '2026-12-20', '阳消改字〔2026〕第 1 号', false, 2, @T, @T, 3)",
    "INSERT INTO tips (id, channel, status, village_id, venue_type_id, category_id, "
    "unit_name, address, description, wants_feedback, receipt_hash, reject_message, case_id, "
    "decided_by_id, decided_at, created_at, version) VALUES "
    "(1, 'web', 'pending', 2, NULL, 1, '东庄村粮油店', '', '仓库电线钉在木梁上', false, "
    "'@a', '', NULL, NULL, NULL, @T, 1), "
    "(2, 'web', 'accepted', 1, 1, 1, '李家超市', '中心街 8 号', '电线乱拉', true, "
    "'@b', '', 1, 2, @T, @T, 2)",
    "INSERT INTO messages (id, tip_id, direction, body, author_id, created_at) "
    "VALUES (1, 1, 'to_reporter', '请问在几楼？', 2, @T)",
    "INSERT INTO tip_revisions (id, tip_id, field, old_text, new_text, reason, editor_id, "
    "created_at) VALUES (1, 2, 'description', '电线乱拉 电话 138', '电线乱拉', '去掉电话', "
    "2, @T)",
    "INSERT INTO assignments (id, case_id, department_id, role, state, routed_at, "
    "routed_by_id, override_reason, accepted_at, accepted_by_id, end_reason) VALUES "
    "(1, 1, 2, 'lead', 'accepted', @T, 2, '', @T, 4, ''), "
    "(2, 1, 3, 'assist', 'pending', @T, 2, '', NULL, NULL, '')",
    "INSERT INTO case_events (id, case_id, kind, actor_id, department_id, internal_text, "
    "public_text, created_at, data) VALUES (1, 1, 'opened', 2, NULL, '受理', '', @T, NULL), "
    "(2, 1, 'routed', 2, 2, '交办', '已交办', @T, '{\"lead\": \"FIRE\"}')",
    "INSERT INTO attachments (id, stored_name, kind, content_type, size_bytes, sha256, "
    "public, withheld, case_event_id, uploaded_by_id, created_at) VALUES "
    "(1, 'abc.jpg', 'photo', 'image/jpeg', 1234, '@c', false, false, 2, 4, @T)",
    "INSERT INTO listings (id, case_id, level, deadline, responsible_leader, listed_by_id, "
    "listed_at) VALUES (1, 1, 'county', '2026-12-31', '分管副乡长', 3, @T)",
    "INSERT INTO listing_interviews (id, listing_id, held_at, participants, notes, "
    "recorded_by_id, recorded_at) VALUES (1, 1, @T, '负责人', '约谈', 3, @T)",
    "INSERT INTO urging_notices (id, department_id, year, seq, text, issued_by_id, issued_at, "
    "answer) VALUES (1, 2, 2026, 1, '催办', 3, @T, '')",
    "INSERT INTO urging_notice_cases (notice_id, case_id) VALUES (1, 1)",
    "INSERT INTO bulletins (id, period_start, period_end, title, text, figures, "
    "created_by_id, created_at, updated_at) VALUES (1, '2026-10-01', '2026-10-31', "
    "'十月通报', '正文', '{\"cases\": 1}', 3, @T, @T)",
    "INSERT INTO notifications (id, recipient_department_id, kind, subject, body, created_at, "
    "next_attempt_at, tries, last_error) VALUES (1, 2, 'routed', '新案件', '请处理', @T, "
    "@T, 0, '')",
    "INSERT INTO audit_log (id, created_at, actor_id, actor_name, action, object_type, "
    "object_id, ip, prev_hash, hash) VALUES (1, @T, 1, 'admin', 'user.create', 'user', "
    "'2', '127.0.0.1', '', '@d')",
    "INSERT INTO calendar_days (day, workday, name) VALUES ('2026-10-01', false, '国庆节')",
    "INSERT INTO calendar_years (year, notice, entered_by_id, entered_at) "
    "VALUES (2026, '国办发明电〔2025〕7号', 1, @T)",
    "INSERT INTO case_tallies (status, outcome, severity, supervision_level, disclosed, "
    "village_id, n) VALUES ('rectifying', '', 'general', 'county', false, 1, 1)",
    "INSERT INTO category_tallies (category_id, status, outcome, n) "
    "VALUES (1, 'rectifying', '', 1)",
    "INSERT INTO department_tallies (department_id, status, n) VALUES (2, 'rectifying', 1)",
    "INSERT INTO search_documents (case_id, text) VALUES (1, '李家超市 电线乱拉')",
    "INSERT INTO search_grams (case_id, gram, disclosed_at) VALUES (1, '电线', @T)",
    "INSERT INTO jobs (id, kind, params, status, attempts, max_attempts, run_after, "
    "created_by_id, created_at) VALUES (1, 'ledger.export', '{}', 'queued', 0, 3, "
    "@T, 3, @T)",
    "INSERT INTO staff_sessions (id, user_id, created_at) VALUES ('@s', 2, @T)",
]


def _filled(statement: str) -> str:
    """A statement of ``ROWS_AT_0011`` with its placeholders: a time, hashes, a session id."""
    filled = statement.replace("@T", T).replace("@s", "e" * 43)
    for char in "abcd0":
        filled = filled.replace(f"@{char}", char * 64)
    return filled


OWNED = ("villages", "departments", "users", "api_keys", "routing_rules", "bulletins",
         "urging_notices")


def _seed_single_township(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    migrate.upgrade(connection=conn, revision="0011")
    conn.commit()
    for statement in ROWS_AT_0011:
        conn.execute(text(_filled(statement)))
    if conn.dialect.name == "postgresql":  # the rows above name their ids; a real portal's
        for table in inspect(conn).get_table_names():  # sequences count its rows
            if "id" not in {c["name"] for c in inspect(conn).get_columns(table)}:
                continue
            sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"),
                                    {"t": table}).scalar()
            if sequence:
                conn.execute(text("SELECT setval(:s, max(id)) FROM " + table  # noqa: S608
                                  + " HAVING max(id) IS NOT NULL"), {"s": sequence})
    conn.commit()
    rows = _rows(conn)
    empty = [table for table, content in rows.items() if not content]
    assert empty == [], f"not seeded: {empty}"
    return rows


def _rows(conn: Connection, columns: dict[str, list[str]] | None = None
          ) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows (the given columns, or all), in a stable order."""
    if columns is None:
        columns = {t: [c["name"] for c in inspect(conn).get_columns(t)]
                   for t in inspect(conn).get_table_names() if t != "alembic_version"}
    return {table: sorted((tuple(row) for row in conn.execute(text(
        f"SELECT {', '.join(_quoted(c) for c in names)} FROM {table}"  # noqa: S608
    ))), key=repr)
            for table, names in columns.items()}


def _quoted(column: str) -> str:
    return f'"{column}"'


def _columns(rows_at_0011: dict[str, list[tuple[Any, ...]]], conn: Connection
             ) -> dict[str, list[str]]:
    return {t: [c["name"] for c in inspect(conn).get_columns(t)] for t in rows_at_0011}


def _jurisdiction(conn: Connection) -> dict[str, Any]:
    import json

    value = conn.execute(text("SELECT value FROM settings WHERE key = 'jurisdiction'")).scalar()
    return json.loads(value) if isinstance(value, str) else dict(value)


def _assert_one_township(conn: Connection) -> int:
    township = conn.execute(text(
        "SELECT id, code, name, office_department, penalty_department FROM townships")).all()
    assert [tuple(t)[1:] for t in township] == [("t1", "阳高乡", "XAB", "ZFD")]
    first = township[0][0]
    for table in OWNED:
        assert conn.execute(text(
            f"SELECT DISTINCT township_id FROM {table}"  # noqa: S608
        )).scalars().all() == [first], table
    assert conn.execute(text(
        "SELECT department_id, township_id FROM department_townships ORDER BY department_id")
    ).all() == [(d, first) for d in (1, 2, 3, 4)]
    assert _jurisdiction(conn)["name"] == "平顺县"
    assert tallies.differences(conn) == {}
    return int(first)


def test_upgrade_keeps_every_row_in_one_township_and_goes_back(
        empty_engine: Engine) -> None:  # noqa: F811
    with empty_engine.connect() as conn:
        before = _seed_single_township(conn)
        columns = _columns(before, conn)
        migrate.upgrade(connection=conn)
        conn.commit()

        after = _rows(conn, columns)
        for table in set(before) - RESHAPED - {"settings"}:
            assert after[table] == before[table], table
        first = _assert_one_township(conn)
        assert conn.execute(text("SELECT count(*) FROM category_tallies")).scalar() == 1

        # Urging notices are numbered per issuing office: the county's office may issue its
        # own 2026 No. 1; the township's office may not issue a second one.
        notice = text(
            "INSERT INTO urging_notices (id, department_id, year, seq, text, issued_by_id, "
            "issued_at, answer, township_id) VALUES (:id, 1, 2026, 1, '催办', 3, "
            "(SELECT issued_at FROM urging_notices WHERE id = 1), '', :office)")
        conn.execute(notice, {"id": 2, "office": None})
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(notice, {"id": 3, "office": first})
        conn.execute(text("DELETE FROM urging_notices WHERE id = 2"))
        conn.commit()

        migrate.downgrade(connection=conn, revision="0011")
        conn.commit()
        assert "townships" not in inspect(conn).get_table_names()
        back = _rows(conn, columns)
        for table in set(before) - {"settings"}:
            assert back[table] == before[table], table
        assert [c["name"] for c in inspect(conn).get_columns("villages")] == columns["villages"]
        assert _jurisdiction(conn)["name"] == "阳高乡", "the township's name again"

        migrate.upgrade(connection=conn)
        conn.commit()
        again = _rows(conn, columns)
        for table in set(before) - RESHAPED - {"settings"}:
            assert again[table] == before[table], table
        _assert_one_township(conn)


def test_an_empty_database_upgrades_with_no_township(empty_engine: Engine) -> None:  # noqa: F811
    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn)
        conn.commit()
        assert conn.execute(text("SELECT count(*) FROM townships")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM settings")).scalar() == 0
        migrate.downgrade(connection=conn, revision="0011")
        migrate.upgrade(connection=conn)
        conn.commit()


def _app_url(engine: Engine) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return f"{url}?options=-csearch_path%3D{SCRATCH_SCHEMA}"
    return str(engine.url)


def test_the_county_file_adopts_the_upgraded_township_and_its_staff_see_the_same(
        empty_engine: Engine, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from portal.domain.access import accounts

    monkeypatch.setattr(accounts, "hash_password", lambda password: generate_password_hash(
        password, method="pbkdf2:sha256:1000"))
    with empty_engine.connect() as conn:
        _seed_single_township(conn)
        conn.execute(text("UPDATE users SET password_hash = :h"),
                     {"h": generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")})
        conn.commit()
        migrate.upgrade(connection=conn)
        conn.commit()
        first = conn.execute(text("SELECT id FROM townships")).scalar_one()

    app = create_app({"ENV": "testing", "SECRET_KEY": TEST_SECRET, "FIELD_KEYS": TEST_FIELD_KEY,
                      "RECEIPT_KEY": "k" * 40, "DATABASE_URL": _app_url(empty_engine),
                      "UPLOAD_DIR": str(tmp_path / "up")})
    try:
        result = app.test_cli_runner().invoke(
            args=["portal", "load-jurisdiction", str(DEMO_JURISDICTION)])
        assert result.exit_code == 0, result.output
        with empty_engine.connect() as conn:
            assert conn.execute(text("SELECT code, id FROM townships ORDER BY code")).all() == [
                ("beishe", conn.execute(text(
                    "SELECT id FROM townships WHERE code = 'beishe'")).scalar()),
                ("xigou", conn.execute(text(
                    "SELECT id FROM townships WHERE code = 'xigou'")).scalar()),
                ("yanggao", first)]
            assert conn.execute(text("SELECT DISTINCT township_id FROM users")).scalars(
                ).all() == [first]
            assert conn.execute(text(
                "SELECT township_id FROM villages WHERE code = 'V02'")).scalar() == first
            assert tallies.differences(conn) == {}

        client = app.test_client()
        token = csrf_token(client, "/admin/login")
        signed_in = client.post("/admin/login", data={
            "username": "mod", "password": PASSWORD, "next": "", "csrf_token": token})
        assert signed_in.status_code == 302, signed_in.get_data(as_text=True)
        queue = client.get("/admin/queue")
        assert queue.status_code == 200
        assert "东庄村粮油店" in queue.get_data(as_text=True)
    finally:
        database(app).engine.dispose()
