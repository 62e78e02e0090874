"""The legal clock on a case and the documents it requires (issue 20).

Each ``CaseClock`` is one running time limit of a named rule (``portal.domain.casework.limits``
holds the rules, their legal basis and how each is counted): when it started, when it is due,
when it was met. The §18 check keeps its own columns on the case (``check_by``/``checked_at``),
which the lists filter by; every later limit is a row here. A clock that no longer applies
(the case was sent back, the rectification deadline moved) is cancelled and a new one starts,
so the history of every limit stays.

A ``CaseDocument`` is a document served or filed on the case (责令限期改正通知书, 复查意见书,
重大火灾隐患整改通知书, the report of a major hazard to the government): its kind, the
issuing department, its number (generated per department, kind and year, or typed in where the
department numbers in its own system) and the content as printed, frozen when it was issued.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.clock import utcnow
from portal.domain.models.accounts import User
from portal.domain.models.base import Base
from portal.domain.models.cases import Case
from portal.domain.models.places import Department


class CaseClock(Base):
    """One running time limit of a rule on a case."""

    __tablename__ = "case_clocks"
    __table_args__ = (
        CheckConstraint("met_at IS NULL OR cancelled_at IS NULL", name="met_or_cancelled"),
        # The open clocks by due time: "overdue" is one range of this index.
        Index("ix_case_clocks_open_due", "due_at", "case_id",
              postgresql_where=text("met_at IS NULL AND cancelled_at IS NULL"),
              sqlite_where=text("met_at IS NULL AND cancelled_at IS NULL")),
        Index(None, "case_id", "rule"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    rule: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime]
    met_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    # Why it started, was extended or was cancelled, in a few words (shown on the case page).
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="clocks")

    @property
    def open(self) -> bool:
        return self.met_at is None and self.cancelled_at is None


class CaseDocument(Base):
    """A numbered document issued on a case, as it was printed."""

    __tablename__ = "case_documents"
    __table_args__ = (
        UniqueConstraint("department_id", "kind", "year", "seq"),
        # A number names one document of a kind for its department, typed or generated.
        UniqueConstraint("department_id", "kind", "number"),
        CheckConstraint("seq IS NOT NULL OR number <> ''", name="numbered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    year: Mapped[int]
    # The generated sequence within (department, kind, year); NULL when typed in.
    seq: Mapped[int | None]
    number: Mapped[str] = mapped_column(String(64))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="documents")
    department: Mapped[Department] = relationship()
    issued_by: Mapped[User] = relationship()
