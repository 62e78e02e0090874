"""A small, fast run of the benchmark code itself, so that it cannot rot."""

from __future__ import annotations

import random

from sqlalchemy import text

from bench import http, seed
from bench.http import Endpoint, Server, measure
from portal.domain.supervision import tallies


def test_seed_and_one_measured_request(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    engine = seed.prepare(url, fresh=True)
    counts = seed.seed(engine, 60, random.Random(1), townships=5)
    assert counts["cases"] == 60 and counts["tips"] >= 60 and counts["case_events"] > 60
    with engine.connect() as conn:
        assert counts["tallies"] > 0 and tallies.differences(conn) == {}, \
            "the seed's bulk inserts leave the case tallies exact"
        # A county of five townships: the demo's three and two synthetic ones, each with its
        # villages and departments, and every case led by a department serving its township.
        assert conn.execute(text("SELECT count(*) FROM townships")).scalar() == 5
        assert conn.execute(text(
            "SELECT count(DISTINCT v.township_id) FROM cases c JOIN villages v "
            "ON v.id = c.village_id")).scalar() == 5
        assert conn.execute(text(
            "SELECT count(*) FROM assignments a JOIN cases c ON c.id = a.case_id "
            "JOIN villages v ON v.id = c.village_id WHERE NOT EXISTS (SELECT 1 FROM "
            "department_townships dt WHERE dt.department_id = a.department_id "
            "AND dt.township_id = v.township_id)")).scalar() == 0
        assert conn.execute(text(
            "SELECT count(*) FROM routing_rules r JOIN townships t ON t.id = r.township_id "
            "WHERE t.code LIKE 'T%'")).scalar() >= 2

    varied = http.varied_urls(engine, random.Random(1))
    searches = [varied["search"]() for _ in range(50)]
    assert all(u.startswith("/disclosures?q=") for u in searches)
    assert len({u.partition("&_=")[0] for u in searches}) > 1, "the words vary"
    for row in ("search", "filters", "unit", "townships", "open311"):
        drawn = [varied[row]() for _ in range(30)]
        assert len(set(drawn)) == len(drawn), f"{row}: no URL twice, so no page-cache hit"
    assert len({varied["filters"]().partition("&_=")[0] for _ in range(20)}) > 1
    assert len({varied["open311 200"]() for _ in range(5)}) > 1

    server = Server(url, tmp_path)
    trivial = Server(url, tmp_path, app=http.TRIVIAL_APP, health="/")
    server.start()
    try:
        trivial.start()
        figure = measure(server.port, Endpoint("/disclosures", "/disclosures"),
                         concurrency=2, duration=0.5)
        track = measure(server.port, http.TrackLookup("/track", "/track"),
                        concurrency=1, duration=0.3)
        search = measure(server.port, Endpoint("search, varied", varied["search"]),
                         concurrency=1, duration=0.3)
        open311 = measure(server.port, Endpoint("open311, varied", varied["open311"]),
                          concurrency=1, duration=0.3)
        ids = {"villages": http._ids(engine, "SELECT id FROM villages WHERE active"),
               "categories": http._ids(engine, "SELECT id FROM categories WHERE active")}
        fresh = http.FreshReportPost("fresh form", ids=ids, photo=None)
        report = measure(server.port, fresh, concurrency=1, duration=0.3)
        base = measure(trivial.port, Endpoint("trivial", "/", port=trivial.port),
                       concurrency=1, duration=0.3)
    finally:
        server.stop()
        trivial.stop()
    assert figure.requests > 0 and figure.errors == 0 and figure.p50_ms > 0
    assert track.errors == 0, track.statuses
    assert search.requests > 0 and search.errors == 0, search.statuses
    assert open311.requests > 0 and open311.errors == 0, open311.statuses
    assert base.requests > 0 and base.errors == 0 and base.rps > 0, base.statuses
    assert report.errors == 0 and fresh.accepted_keys, report.statuses
    assert "LOST" not in http._loss_check(engine, fresh.accepted_keys)


def test_the_photo_bench_measures_a_reduced_decode() -> None:
    from bench import photos

    seconds, size = photos.cpu_per_photo(photos.phone_photo((1600, 1200)), 800, runs=1)
    assert seconds > 0 and max(size) == 800
