"""Running counts of the cases, kept by ``portal.domain.supervision.tallies`` in the same
transaction as every change to a case or its lead assignments, so that whole-ledger figures (the
supervisor's dashboard, the public statistics) are sums over a few hundred rows instead of scans."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.models.base import Base


class CaseTally(Base):
    """Cases per combination of the dimensions figures are cut by. ``outcome`` is '' while
    the case is open (a primary key holds no NULL)."""

    __tablename__ = "case_tallies"

    status: Mapped[str] = mapped_column(String(32), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(32), primary_key=True)
    severity: Mapped[str] = mapped_column(String(32), primary_key=True)
    supervision_level: Mapped[str] = mapped_column(String(32), primary_key=True)
    disclosed: Mapped[bool] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    n: Mapped[int] = mapped_column(default=0)


class CategoryTally(Base):
    """Cases per hazard category, status and outcome (the public statistics by category)."""

    __tablename__ = "category_tallies"

    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(32), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Per village, so a township's figures are a sum over its villages (issue 18).
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    n: Mapped[int] = mapped_column(default=0)


class DepartmentTally(Base):
    """Cases per lead department and status: a case counts once for every department that
    leads it or led it to completion (``portal.domain.casework.leads``)."""

    __tablename__ = "department_tallies"

    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(32), primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    n: Mapped[int] = mapped_column(default=0)
