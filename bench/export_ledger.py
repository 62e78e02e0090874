"""Export the whole hazard ledger over HTTP and measure time, size and peak memory.

    python -m bench.seed --cases 100000 --database-url sqlite:////tmp/bench.db --fresh
    python -m bench.export_ledger --database-url sqlite:////tmp/bench.db [--format xlsx]

Signs in a supervisor through the real login form, then reads ``/admin/ledger.csv`` (or
``.xlsx``) chunk by chunk, as a browser would, and reports the time to the first byte, the
total, the rows and the process's peak Python allocations (tracemalloc would slow the XLSX
writer tenfold, so the peak resident size is reported instead).
"""

from __future__ import annotations

import argparse
import io
import re
import resource
import sys
import time

from portal import create_app
from portal.db import database
from portal.domain.access import accounts
from portal.domain.enums import Role

PASSWORD = "bench supervisor password 1"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    parser.add_argument("--query", default="", help="ledger filter, e.g. 'open=1'")
    args = parser.parse_args(argv)
    app = create_app({"ENV": "testing", "DATABASE_URL": args.database_url,
                      "SECRET_KEY": "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"})
    with app.app_context():
        session = database(app).sessionmaker()
        if accounts.find_user(session, "bench-supervisor") is None:
            accounts.create_user(session, "bench-supervisor", Role.SUPERVISOR, PASSWORD)
            session.commit()
        session.close()
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)  # type: ignore[union-attr]
    signed_in = client.post("/admin/login", data={"username": "bench-supervisor",
                                                  "password": PASSWORD, "csrf_token": token})
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)[:500]

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    response = client.get(f"/admin/ledger.{args.format}?{args.query}", buffered=False)
    first = None
    size = 0
    lines = 0
    body = io.BytesIO() if args.format == "xlsx" else None
    for chunk in response.response:
        if first is None:
            first = time.perf_counter() - started
        size += len(chunk)
        lines += chunk.count(b"\n")
        if body is not None:
            body.write(chunk)
    total = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = lines - 1
    if body is not None:
        from openpyxl import load_workbook
        sheet = load_workbook(body, read_only=True).worksheets[0]
        rows = sum(1 for _ in sheet.iter_rows(values_only=True)) - 1
    print(f"{args.format}: {rows:,} rows, {size / 1e6:.1f} MB, first byte {first or 0:.2f} s, "
          f"total {total:.1f} s; peak RSS {before / 1024:.0f} → {peak / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
