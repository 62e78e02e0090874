"""Reading an uploaded table (a census, a ledger): CSV or XLSX into rows of text cells.

One reader for every import of issue 22: CSV in UTF-8 (with or without BOM) or GBK/GB18030,
as Excel in China saves it, with comma, tab or semicolon; XLSX: the first sheet, numbers Excel
stored for ids and phone numbers given back without ".0". Rows keep the number the spreadsheet
shows (the header is row 1), so that an error can name it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass


class TableError(ValueError):
    """The file cannot be read as a table; the message says why, in Chinese."""


@dataclass(frozen=True)
class RowError:
    """What is wrong with one row of an import, naming the row as the spreadsheet numbers it
    (the header is row 1) and the column, so that a clerk can find the cell."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"「{self.column}」" if self.column else ""
        return f"第 {self.row} 行{where}：{self.message}"


def read_rows(data: bytes, filename: str) -> list[tuple[int, list[str]]]:
    """The file's rows as text cells, each with its row number (the header is row 1); blank
    rows are left out. XLSX: the first sheet. CSV: UTF-8 (with or without BOM) or GBK, as
    Excel in China saves it."""
    if data[:4] == b"\xd0\xcf\x11\xe0" or filename.lower().endswith(".xls"):
        raise TableError("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 CSV")
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        rows = _xlsx_rows(data)
    else:
        rows = _csv_rows(data)
    return [(number, cells) for number, cells in rows if any(c.strip() for c in cells)]


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TableError("无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV")
    # Tab-separated when the header has tabs and no commas (copied from a spreadsheet).
    header = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in header and "," not in header else ","
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
            yield number, [c.strip() for c in cells]
    except csv.Error as exc:
        raise TableError(f"CSV 文件格式有误：{exc}") from exc


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # only an import needs it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is not a workbook
        raise TableError("无法打开 XLSX 文件，请确认是 Excel 2007 及以后的格式") from None
    try:
        sheet = book.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True),
                                          start=1):
            yield number, [_cell(v) for v in values]
    finally:
        book.close()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an id or phone number Excel stored as a number
    return str(value).strip()


