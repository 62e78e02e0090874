"""A read-only request keeps the database's prepared statements (issue 19).

psycopg deallocates every statement it prepared on a connection at each ROLLBACK, and it keys
them by the parameters' types, which for a Python int it chose by the value. A public page
therefore had its statements planned again on every request: a list's seven-table join cost
about 5 ms of planning to run in 1 ms. A GET that ran only reads now ends with COMMIT, and
every int is sent as one type; a GET that wrote anything is still rolled back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from portal.db import database, get_session
from portal.domain.models import Township
from tests.conftest import separate_database

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                reason="prepared statements are PostgreSQL's")


def test_a_public_page_read_again_uses_the_statements_prepared_before(tmp_path: Path) -> None:
    with separate_database(tmp_path, "read_only_prepared") as app:
        client = app.test_client()
        for page in range(1, 13):  # the same statements twelve times, each a new request
            assert client.get(f"/disclosures?page={page}").status_code == 200
        engine = database(app).engine
        with engine.connect() as conn:  # the pool's one connection, the requests' own
            prepared = conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar()
        assert prepared and prepared > 0


def test_a_get_that_wrote_without_committing_is_still_rolled_back(tmp_path: Path) -> None:
    with separate_database(tmp_path, "read_only_rollback") as app:

        @app.get("/_test/write-and-forget")
        def write_and_forget() -> str:
            get_session().add(Township(code="ghost", name="幽灵乡"))
            get_session().flush()
            return "ok"

        client = app.test_client()
        assert client.get("/_test/write-and-forget").status_code == 200
        with app.app_context():
            kept = get_session().scalar(select(func.count()).select_from(Township)
                                        .where(Township.code == "ghost"))
        assert kept == 0
