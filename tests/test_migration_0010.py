"""0010 adds the disclosures' search index and fills it for the cases disclosed before it: an
upgraded database searches at once, and no existing row changes."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from portal import migrate
from portal.domain.disclosure import search
from portal.domain.models import Case
from tests.test_migrations import empty_engine  # noqa: F401  (the fixture)

PHONE = "13812345678"


def _seed_0009(conn) -> None:
    conn.execute(text("INSERT INTO villages (id, code, name, active, sort_order) "
                      "VALUES (1, 'V01', '东村', true, 1)"))
    conn.execute(text(
        "INSERT INTO categories (id, code, name, description, urgent, needs_penalty, "
        "active, sort_order) VALUES (1, 'wiring', '电气线路', '', false, false, true, 1)"))
    conn.execute(text("INSERT INTO venue_types (id, code, name, active, sort_order) VALUES "
                      "(1, 'street_shop', '沿街商铺', true, 1), "
                      "(2, 'old_residential', '老旧住宅', true, 2)"))
    units = [(1, "红星超市", 1, "人民路12号"), (2, f"王家{PHONE}饭店", 2, "南巷7号院内"),
             (3, "未公开超市", 1, "北街1号")]
    for unit_id, name, venue, address in units:
        conn.execute(text(
            "INSERT INTO units (id, name, normalized_name, venue_type_id, village_id, address, "
            "created_at) VALUES (:id, :name, :name, :venue, 1, :address, "
            "'2026-11-01 08:00:00')"), {"id": unit_id, "name": name, "venue": venue,
                                        "address": address})
    for case_id, unit_id, disclosed in ((1, 1, True), (2, 2, True), (3, 3, False)):
        conn.execute(text(
            "INSERT INTO cases (id, unit_id, village_id, category_id, channel, severity, "
            "status, internal_summary, public_summary, supervision_level, routed_at, "
            "confirmed_at, rectify_notice_no, disclosed, disclosed_at, created_at, "
            "updated_at, version) VALUES (:id, :unit, 1, 1, 'web', 'general', 'rectifying', "
            "'内部机密', '疏散通道堆放货物。', 'none', '2026-11-01 09:00:00', "
            "'2026-11-02 09:00:00', '', :disclosed, :at, '2026-11-01 08:00:00', "
            "'2026-11-03 08:00:00', 1)"),
            {"id": case_id, "unit": unit_id, "disclosed": disclosed,
             "at": f"2026-11-0{2 + case_id} 09:00:00" if disclosed else None})


def test_0010_indexes_the_cases_disclosed_before_it(empty_engine: Engine) -> None:  # noqa: F811
    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn, revision="0009")
        _seed_0009(conn)
        conn.commit()
        migrate.upgrade(connection=conn, revision="0010")
        conn.commit()
        documents = dict(conn.execute(text(
            "SELECT case_id, text FROM search_documents ORDER BY case_id")).all())
        assert documents == {
            1: "红星超市\n东村人民路12号\n疏散通道堆放货物。",
            2: "王家138********饭店\n东村\n疏散通道堆放货物。",
        }, "public text only: masked, a home's address left out, nothing of an undisclosed case"
        assert conn.execute(text("SELECT count(*) FROM cases")).scalar() == 3
        # The models are today's: compare at the head (no later revision touches the index).
        migrate.upgrade(connection=conn)
        conn.commit()
        with Session(bind=conn) as session:
            assert search.differences(session) == [], "the same index the domain keeps"
            page = search.page_of_matches(
                session, select(Case.id).where(Case.disclosed.is_(True)), "超市", page=1,
                size=20)
            assert page.items == [1]
        migrate.downgrade(connection=conn, revision="0009")
        conn.commit()
        assert "search_grams" not in inspect(conn).get_table_names()
        assert conn.execute(text("SELECT count(*) FROM cases")).scalar() == 3
