"""A small, fast run of the benchmark code itself, so that it cannot rot."""

from __future__ import annotations

import random

from bench import http, seed
from bench.http import Endpoint, Server, measure
from portal.domain.supervision import tallies


def test_seed_and_one_measured_request(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    engine = seed.prepare(url, fresh=True)
    counts = seed.seed(engine, 60, random.Random(1))
    assert counts["cases"] == 60 and counts["tips"] >= 60 and counts["case_events"] > 60
    with engine.connect() as conn:
        assert counts["tallies"] > 0 and tallies.differences(conn) == {}, \
            "the seed's bulk inserts leave the case tallies exact"

    server = Server(url, tmp_path)
    server.start()
    try:
        figure = measure(server.port, Endpoint("/disclosures", "/disclosures"),
                         concurrency=2, duration=0.5)
        track = measure(server.port, http.TrackLookup("/track", "/track"),
                        concurrency=1, duration=0.3)
    finally:
        server.stop()
    assert figure.requests > 0 and figure.errors == 0 and figure.p50_ms > 0
    assert track.errors == 0, track.statuses


def test_the_photo_bench_measures_a_reduced_decode() -> None:
    from bench import photos

    seconds, size = photos.cpu_per_photo(photos.phone_photo((1600, 1200)), 800, runs=1)
    assert seconds > 0 and max(size) == 800
