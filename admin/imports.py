"""What every import screen of the back office does around its domain call (the census of
the register, the hazard ledger): read the uploaded file within a size limit, and end as the
report says: errors or a dry run write nothing, a real import is committed and flashed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from flask import flash

from portal.db import get_session

MAX_FILE_BYTES = 5_000_000


class ImportReport(Protocol):
    @property
    def errors(self) -> Any: ...

    @property
    def dry_run(self) -> bool: ...

    @property
    def message(self) -> str: ...


def read_upload(upload: Any, *, missing: str, too_large: str) -> tuple[bytes | None, str]:
    """The uploaded file's bytes, or None and the Chinese reason."""
    if not upload or not getattr(upload, "filename", ""):
        return None, missing
    data = upload.stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        return None, too_large
    return data, ""


def conclude(report: ImportReport, page: Callable[..., Any]) -> Any:
    """Roll back a report with errors (400) or a dry run's (200); commit a real import."""
    db = get_session()
    if report.errors:
        db.rollback()
        return page(report.message, 400, report)
    if report.dry_run:
        db.rollback()
        return page("", 200, report)
    db.commit()
    flash(f"{report.message}。", "success")
    return page("", 200, report)
