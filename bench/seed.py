"""Fill a database with realistic data at a given size, fast (bulk inserts).

    python -m bench.seed --cases 100000 [--townships 20] [--database-url URL] [--fresh]

The demo county (its three townships, villages, departments, vocabularies and routing rules)
and the demo's own sample reports and cases (``portal.domain.administration.samples``, a few
dozen taken through the real workflow) are the base; the volume is bulk rows on top. A
county of ``--townships`` townships: synthetic townships join the demo's three, each with its
villages (and their village committees), its office, police station and law-enforcement team,
and its own routing rules; more villages per township as the case count grows, so that a
county-sized run looks like one. Every bulk case lies in a random village, gets its unit, 1–2
tips, 1–2 assignments to departments serving its township, and a timeline of 2–6 events; the
mix of statuses, disclosures and overdue dates follows what a working office would have. The
tallies are recounted and the search index built at the end. One tip has a known receipt code
(printed) so `/track` can be measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session

from portal import migrate
from portal.config import ROOT
from portal.db import make_engine
from portal.domain.administration import samples
from portal.domain.disclosure import search
from portal.domain.enums import CaseEventKind, CaseStatus
from portal.domain.models.base import Base
from portal.domain.reporting.identity import IdentityCipher, receipt_hash
from portal.domain.supervision import tallies

BATCH = 5000
KNOWN_RECEIPT = "2026112900000001"
BENCH_RECEIPT_KEY = "bench-receipt-key-0123456789abcdefghijklmnopqrstuvwxyz"
BENCH_FIELD_KEYS = "pVaw5pRvMBnpZ7z1m0kq4l6n3mR9Q2yF0nXo8u5bT1c="  # bench/http.py's server's
NOW = dt.datetime(2026, 11, 29, 4, 0, tzinfo=dt.UTC)
T = Base.metadata.tables

STATUS_MIX = [  # (status, share)
    (CaseStatus.TRIAGE, 0.02), (CaseStatus.ROUTED, 0.06), (CaseStatus.CHECKING, 0.07),
    (CaseStatus.RECTIFYING, 0.22), (CaseStatus.RECTIFIED, 0.05), (CaseStatus.CLOSED, 0.58),
]
SHOP_WORDS = ["超市", "饭店", "小卖部", "加工厂", "汽修店",
              "理发店", "幼儿园", "卫生室", "仓库", "民宿"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"


def _batches(rows: Iterator[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _insert(engine: Engine, table: str, rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    with engine.begin() as conn:
        for batch in _batches(rows):
            conn.execute(insert(T[table]), batch)
            count += len(batch)
    return count


def _ids(engine: Engine, table: str, where: str = "") -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text(f"SELECT id FROM {table} {where} ORDER BY id")).scalars())


def prepare(url: str, fresh: bool) -> Engine:
    engine = make_engine(url)
    if fresh:
        if url.startswith("sqlite"):
            path = url.removeprefix("sqlite:///")
            engine.dispose()
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
            engine = make_engine(url)
        else:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(url)
    from portal.domain.administration import jurisdiction

    def load(session: Session) -> None:
        jurisdiction.load_file(session, ROOT / "portal" / "data" / "demo_jurisdiction.toml")

    _in_app(url, load)
    return engine


def _in_app(url: str, work: Callable[[Session], Any]) -> Any:
    """Run ``work`` in a session of the app (whose audit key the domain's steps sign with),
    and commit."""
    from portal import create_app
    from portal.db import database

    app = create_app({"ENV": "development", "DATABASE_URL": url})
    with app.app_context():
        session = database(app).sessionmaker()
        try:
            result = work(session)
            session.commit()
        finally:
            session.close()
    database(app).engine.dispose()
    return result


def seed_samples(url: str) -> int:
    """The demo's sample reports and cases, once: the realistic base the bulk rows join."""
    def load(session: Session) -> int:
        report = samples.seed_samples(session, cipher=IdentityCipher(BENCH_FIELD_KEYS),
                                      receipt_key=BENCH_RECEIPT_KEY)
        return report.cases

    return _in_app(url, load)


# A synthetic township's own departments: (code suffix, name, kind).
TOWNSHIP_DEPARTMENTS = (("XAB", "消防安全委员会办公室", "safety_office"),
                        ("POLICE", "派出所", "police_station"),
                        ("ZFD", "综合行政执法队", "law_enforcement"))
# A synthetic township's own routing rules: (category, lead suffix, assist suffixes).
TOWNSHIP_RULES = (("illegal_dwelling", "POLICE", ()),
                  ("blocked_fire_lane", "POLICE", ("ZFD",)),
                  ("illegal_construction", "ZFD", ("POLICE",)))
VILLAGES_PER_TOWNSHIP = 5  # at least; one more per 5,000 cases the township holds


def seed_townships(engine: Engine, townships: int, cases: int) -> dict[str, int]:
    """Synthetic townships beyond the demo's, up to ``townships`` in all, each with its
    villages, village committees, own departments (serving it alone) and routing rules."""
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        existing = conn.execute(text("SELECT count(*) FROM townships")).scalar_one()
    extra = max(0, townships - existing)
    per = max(VILLAGES_PER_TOWNSHIP, cases // (5000 * max(townships, 1)))
    codes = [f"T{i:03d}" for i in range(1, extra + 1)]
    counts["townships"] = _insert(engine, "townships", (
        {"code": code, "name": f"合成乡{code[1:]}（示例）", "active": True,
         "sort_order": 100 + i, "office_department": f"{code}-XAB",
         "penalty_department": f"{code}-ZFD", "contact": ""}
        for i, code in enumerate(codes)))
    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT code, id FROM townships WHERE code LIKE 'T%'")
                                ).all())
    counts["villages"] = _insert(engine, "villages", (
        {"code": f"{code}-V{v:03d}", "name": f"合成{code[1:]}乡{v:03d}村（示例）",
         "active": True, "sort_order": v, "township_id": ids[code]}
        for code in codes for v in range(1, per + 1)))
    with engine.connect() as conn:
        villages = conn.execute(text(
            "SELECT v.id, v.code, v.township_id FROM villages v JOIN townships t "
            "ON t.id = v.township_id WHERE t.code LIKE 'T%'")).all()
    counts["departments"] = _insert(engine, "departments", [
        *({"code": f"{code}-{suffix}", "name": f"合成乡{code[1:]}{name}（示例）", "kind": kind,
           "contact": "", "email": "", "village_id": None, "active": True,
           "township_id": ids[code]}
          for code in codes for suffix, name, kind in TOWNSHIP_DEPARTMENTS),
        *({"code": f"VC-{vcode}", "name": f"{vcode}村委会（示例）",
           "kind": "village_committee", "contact": "", "email": "", "village_id": vid,
           "active": True, "township_id": township}
          for vid, vcode, township in villages)])
    with engine.connect() as conn:
        departments = dict(conn.execute(text(
            "SELECT d.code, d.id FROM departments d JOIN townships t ON t.id = d.township_id "
            "WHERE t.code LIKE 'T%'")).all())
        categories = dict(conn.execute(text("SELECT code, id FROM categories")).all())
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO department_townships (department_id, township_id) SELECT d.id, "
            "d.township_id FROM departments d JOIN townships t ON t.id = d.township_id "
            "WHERE t.code LIKE 'T%'"))
        # The county's departments that serve every township serve the new ones too (those
        # serving the whole demo county; SCJGJ serves two townships and stays so).
        conn.execute(text(
            "INSERT INTO department_townships (department_id, township_id) SELECT d.id, t.id "
            "FROM departments d, townships t WHERE d.township_id IS NULL AND t.code LIKE 'T%' "
            "AND (SELECT count(*) FROM department_townships s WHERE s.department_id = d.id) "
            "= :existing"), {"existing": existing})
    rules = [(code, category, lead, assists) for code in codes
             for category, lead, assists in TOWNSHIP_RULES if category in categories]
    counts["routing_rules"] = _insert(engine, "routing_rules", (
        {"category_id": categories[category], "venue_type_id": None, "village_id": None,
         "lead_department_id": departments[f"{code}-{lead}"], "priority": 0, "active": True,
         "note": "", "township_id": ids[code]}
        for code, category, lead, _a in rules))
    rule_ids = _ids(engine, "routing_rules")[-len(rules):] if rules else []
    _insert(engine, "routing_rule_assists", (
        {"rule_id": rule_id, "department_id": departments[f"{code}-{assist}"]}
        for rule_id, (code, _c, _l, assists) in zip(rule_ids, rules, strict=True)
        for assist in assists))
    return counts


def seed(engine: Engine, cases: int, rng: random.Random, *,
         townships: int = 20) -> dict[str, int]:
    counts: dict[str, int] = {}
    counts["sample_cases"] = seed_samples(engine.url.render_as_string(hide_password=False))
    counts.update(seed_townships(engine, townships, cases))
    with engine.connect() as conn:
        township_of = dict(conn.execute(text("SELECT id, township_id FROM villages")
                                        ).all())
        serving: dict[int, list[int]] = {}
        for department, township in conn.execute(text(
                "SELECT dt.department_id, dt.township_id FROM department_townships dt "
                "JOIN departments d ON d.id = dt.department_id WHERE d.active "
                "ORDER BY dt.department_id")):
            serving.setdefault(township, []).append(department)
    villages = sorted(township_of)
    categories = _ids(engine, "categories")
    venues = _ids(engine, "venue_types")
    with engine.connect() as conn:
        urgent = set(conn.execute(text("SELECT id FROM categories WHERE urgent")).scalars())

    plan = []
    statuses = [s for s, _ in STATUS_MIX]
    weights = [w for _, w in STATUS_MIX]
    for n in range(cases):
        created = NOW - dt.timedelta(days=rng.uniform(0, 3 * 365))
        status = rng.choices(statuses, weights)[0]
        plan.append((n, created, status, rng.choice(villages), rng.choice(categories),
                     rng.choice(venues)))

    def unit_rows():
        for n, created, _s, village, _c, venue in plan:
            name = f"{rng.choice(SURNAMES)}记{rng.choice(SHOP_WORDS)}{n}"
            yield {"name": name, "normalized_name": name, "venue_type_id": venue,
                   "village_id": village, "address": f"{n % 300} 号", "lat": None, "lon": None,
                   "created_at": created}

    counts["units"] = _insert(engine, "units", unit_rows())
    unit_base = _ids(engine, "units")[-len(plan):][0] if plan else 0

    def case_rows():
        for n, created, status, village, category, venue in plan:
            routed = created + dt.timedelta(hours=2) if status is not CaseStatus.TRIAGE else None
            confirmed = status in (CaseStatus.RECTIFYING, CaseStatus.RECTIFIED) or (
                status is CaseStatus.CLOSED and rng.random() < 0.8)
            closed = status is CaseStatus.CLOSED
            check_hours = 24 if category in urgent else 72
            yield {
                "unit_id": unit_base + n, "village_id": village, "category_id": category,
                "venue_type_id": venue,
                "channel": "web", "severity": "major" if rng.random() < 0.03 else "general",
                "status": status.value,
                "outcome": ("rectified" if confirmed else "unfounded") if closed else None,
                "internal_summary": "",
                "public_summary": "经核查，存在消防安全隐患，已责令限期整改。",
                "supervision_level": "township" if rng.random() < 0.01 else "none",
                "routed_at": routed,
                "check_by": routed + dt.timedelta(hours=check_hours) if routed else None,
                "checked_at": created + dt.timedelta(days=1) if confirmed or closed else None,
                "confirmed_at": created + dt.timedelta(days=1) if confirmed else None,
                "rectify_by": (created + dt.timedelta(days=30)).date() if confirmed else None,
                "rectify_notice_no": "", "rectified_at": None,
                "closed_at": created + dt.timedelta(days=rng.randint(2, 60)) if closed else None,
                "follow_up_by": None,
                "disclosed": confirmed and rng.random() < 0.7,
                "disclosed_at": created + dt.timedelta(days=2) if confirmed else None,
                "created_by_id": None, "created_at": created, "updated_at": created,
                "version": 1,
            }

    counts["cases"] = _insert(engine, "cases", case_rows())
    case_base = _ids(engine, "cases")[-len(plan):][0] if plan else 0

    def tip_rows():
        for n, created, _status, village, category, venue in plan:
            for k in range(1 + (n % 5 == 0)):
                yield {
                    "channel": "web", "status": "accepted" if k == 0 else "merged",
                    "village_id": village, "venue_type_id": venue, "category_id": category,
                    "unit_name": "店铺", "address": "", "lat": None, "lon": None,
                    "description": "门口堆放大量纸箱，安全出口被堵塞，晚上有人住在店里。",
                    "observed_at": None, "reporter_name_enc": None, "reporter_phone_enc": None,
                    "wants_feedback": False,
                    "receipt_hash": os.urandom(32).hex(), "submission_key": None,
                    "reject_reason": None, "reject_message": "",
                    "case_id": case_base + n,
                    "created_by_id": None, "decided_by_id": None,
                    "decided_at": created + dt.timedelta(hours=1), "created_at": created,
                }

    counts["tips"] = _insert(engine, "tips", tip_rows())

    def assignment_rows():
        for n, created, status, village, *_rest in plan:
            if status is CaseStatus.TRIAGE:
                continue
            departments = serving[township_of[village]]
            for role_index in range(1 + (n % 3 == 0)):
                yield {
                    "case_id": case_base + n, "department_id": rng.choice(departments),
                    "role": "lead" if role_index == 0 else "assist",
                    "state": "completed" if status is CaseStatus.CLOSED else (
                        "pending" if status is CaseStatus.ROUTED else "accepted"),
                    "routed_at": created + dt.timedelta(hours=2), "routed_by_id": None,
                    "override_reason": "",
                    "accepted_at": None if status is CaseStatus.ROUTED else created
                    + dt.timedelta(hours=5),
                    "accepted_by_id": None,
                    "ended_at": created + dt.timedelta(days=10)
                    if status is CaseStatus.CLOSED else None,
                    "ended_by_id": None, "end_reason": "", "transferred_to_id": None,
                }

    counts["assignments"] = _insert(engine, "assignments", assignment_rows())

    kinds = [CaseEventKind.OPENED, CaseEventKind.ROUTED, CaseEventKind.ACCEPTED,
             CaseEventKind.CHECK_CONFIRMED, CaseEventKind.PROGRESS, CaseEventKind.CLOSED]

    def event_rows():
        for n, created, status, *_rest in plan:
            steps = {CaseStatus.TRIAGE: 1, CaseStatus.ROUTED: 2, CaseStatus.CHECKING: 3,
                     CaseStatus.RECTIFYING: 5, CaseStatus.RECTIFIED: 5,
                     CaseStatus.CLOSED: 6}[status]
            for i in range(steps):
                kind = kinds[i]
                yield {"case_id": case_base + n, "kind": kind.value, "actor_id": None,
                       "department_id": None, "internal_text": "",
                       "public_text": "已完成部分整改，清理了通道堆放物。"
                       if kind is CaseEventKind.PROGRESS else "",
                       "data": None, "created_at": created + dt.timedelta(hours=i * 12)}

    counts["case_events"] = _insert(engine, "case_events", event_rows())

    with engine.begin() as conn:  # one tip with a known code, for /track
        first_tip = conn.execute(select(func.min(T["tips"].c.id))
                                 .where(T["tips"].c.case_id == case_base)).scalar()
        conn.execute(T["tips"].update().where(T["tips"].c.id == first_tip)
                     .values(receipt_hash=receipt_hash(BENCH_RECEIPT_KEY, KNOWN_RECEIPT)))
    with engine.begin() as conn:  # bulk inserts bypass the flush: count the tallies once
        counts["tallies"] = tallies.rebuild(conn)
    with Session(engine) as session:  # and index the disclosed cases for search once
        counts["search_indexed"] = search.rebuild(session)
        session.commit()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--townships", type=int, default=20,
                        help="townships of the county in all (the demo's three and "
                             "synthetic ones); default 20")
    parser.add_argument("--database-url", default=f"sqlite:///{ROOT / 'instance' / 'bench.db'}")
    parser.add_argument("--fresh", action="store_true", help="start from an empty database")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    engine = prepare(args.database_url, args.fresh)
    counts = seed(engine, args.cases, random.Random(args.seed), townships=args.townships)
    elapsed = time.perf_counter() - started
    rows = sum(counts.values())
    print(f"seeded {args.cases} cases in {args.townships} townships ({rows} rows) in "
          f"{elapsed:.1f} s "
          f"({rows / elapsed:,.0f} rows/s) into {engine.url.render_as_string(hide_password=True)}")
    print("  " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    print(f"  known receipt code for /track: {KNOWN_RECEIPT} "
          f"(with PORTAL_RECEIPT_KEY={BENCH_RECEIPT_KEY})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
