"""Spreadsheet exports as byte chunks, written as the rows arrive.

CSV carries a byte-order mark so that Excel opens the Chinese as UTF-8, and no cell of either
format can start a formula. XLSX uses openpyxl's
write-only mode, which keeps each row only until it is written to a temporary file; the zip
container can only be produced once the last row is in, so it is then read back and handed
on in chunks. Neither holds the whole table in memory.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from openpyxl import Workbook

CSV_FLUSH_ROWS = 500
CHUNK_BYTES = 64 * 1024
# A unit name typed by a resident could start like a formula; Excel would run it. The one rule
# for every spreadsheet the portal writes: these exports and the public open-data CSV.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would read as a formula is kept as text (a leading ')."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _safe(row: Sequence[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


def csv_chunks(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    yield "\ufeff".encode() + buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    pending = 0
    for row in rows:
        writer.writerow(_safe(row))
        pending += 1
        if pending >= CSV_FLUSH_ROWS:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue().encode("utf-8")


def xlsx_chunks(headers: Sequence[str], rows: Iterable[Sequence[Any]],
                sheet_title: str = "Sheet1") -> Iterator[bytes]:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title)
    sheet.append(list(headers))
    for row in rows:
        sheet.append(_safe(row))
    with tempfile.TemporaryFile() as out:
        workbook.save(out)
        out.seek(0)
        while chunk := out.read(CHUNK_BYTES):
            yield chunk
