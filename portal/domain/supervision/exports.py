"""Spreadsheet exports as byte chunks, written as the rows arrive.

CSV carries a byte-order mark so that Excel opens the Chinese as UTF-8, and no cell of either
format can start a formula. XLSX uses openpyxl's
write-only mode, which keeps each row only until it is written to a temporary file; the zip
container can only be produced once the last row is in, so it is then read back and handed
on in chunks. Neither holds the whole table in memory.

Dates and times go into XLSX as real date cells (sortable, filterable, summable in Excel)
with a number format; CSV writes them as text in the same shape.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

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


# Excel's number formats for the two kinds of moment, and the same shapes as text for CSV.
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
_DATETIME_TEXT = "%Y-%m-%d %H:%M"


def _safe(row: Sequence[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


def _text(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime(_DATETIME_TEXT)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _cell(sheet: Any, value: Any) -> Any:
    """A date or a time as a date cell; a spreadsheet holds no zone, so an aware time is
    written as the wall-clock time it carries (callers pass local times)."""
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, dt.datetime):
        cell = WriteOnlyCell(sheet, value=value.replace(tzinfo=None))
        cell.number_format = DATETIME_FORMAT
        return cell
    if isinstance(value, dt.date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = DATE_FORMAT
        return cell
    return safe_cell(value)


def csv_chunks(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    yield "\ufeff".encode() + buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    pending = 0
    for row in rows:
        writer.writerow(_safe([_text(value) for value in row]))
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
    # openpyxl (some 8 MB) is loaded by the first spreadsheet, not by every worker.
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title)
    sheet.append(list(headers))
    for row in rows:
        sheet.append([_cell(sheet, value) for value in row])
    with tempfile.TemporaryFile() as out:
        workbook.save(out)
        out.seek(0)
        while chunk := out.read(CHUNK_BYTES):
            yield chunk
