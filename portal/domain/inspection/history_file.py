"""Reading a hazard ledger file (历史隐患台账, issue 22): CSV (UTF-8, with or without BOM,
or GBK) or XLSX, its documented columns (docs/ledger-import.md) and its dates. What the rows
mean is ``portal.domain.inspection.history``'s."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from portal.domain.inspection import tables

# The ledger's columns (header text -> field); those in REQUIRED must be there.
COLUMNS = {
    "编号": "ref", "乡镇": "township", "村": "village", "单位名称": "name", "地址": "address",
    "场所类型": "venue_type", "隐患类别": "category", "隐患等级": "severity",
    "隐患描述": "description", "发现日期": "discovered", "整改期限": "deadline",
    "整改完成日期": "rectified", "销号日期": "closed", "牵头部门": "department", "状态": "status",
}
REQUIRED = ("村", "单位名称", "隐患类别", "发现日期")
MAX_ROWS = 5000


class LedgerFileError(ValueError):
    """The file cannot be read as a ledger at all; the message is for the importer."""


def read_table(data: bytes, filename: str) -> list[dict[str, Any]]:
    """The file's rows as {header: value}, each with its row number under ``"__row__"``
    (``tables.read_rows``: CSV in UTF-8, with or without BOM, or GBK; XLSX: the first
    sheet). The header is the first row that is not blank."""
    if not filename.lower().endswith((".csv", ".xlsx")):
        raise LedgerFileError("请上传 .csv 或 .xlsx 文件")
    try:
        table = tables.read_rows(data, filename)
    except tables.TableError as exc:
        raise LedgerFileError(str(exc)) from None
    if not table:
        raise LedgerFileError("文件是空的：第一行应为表头")
    headers = [cell_text(h) for h in table[0][1]]
    missing = [c for c in REQUIRED if c not in headers]
    if missing:
        raise LedgerFileError(f"缺少必填列：{'、'.join(missing)}（表头应在第一行）")
    repeated = sorted({h for h in headers if h in COLUMNS and headers.count(h) > 1})
    if repeated:
        raise LedgerFileError(f"表头重复：{'、'.join(repeated)}")
    rows = []
    for number, values in table[1:]:
        row: dict[str, Any] = {h: v for h, v in zip(headers, values, strict=False)
                               if h in COLUMNS}
        row["__row__"] = number
        rows.append(row)
    if len(rows) > MAX_ROWS:
        raise LedgerFileError(f"一次最多导入 {MAX_ROWS} 行，请分批导入")
    return rows


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


def parse_date(value: Any) -> dt.date | None:
    """A ledger's date: an XLSX date cell, 2023-05-01, 2023/5/1, 2023.5.1, 2023年5月1日 or
    20230501; None if empty. ``ValueError`` if unreadable."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = cell_text(value)
    if not text:
        return None
    text = text.split(" ")[0] if re.match(r"^\d{4}-\d{2}-\d{2} ", text) else text
    found = _DATE.match(text)
    if found:
        return dt.date(int(found[1]), int(found[2]), int(found[3]))
    if re.fullmatch(r"\d{8}", text):
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    raise ValueError(text)
