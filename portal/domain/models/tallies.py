"""Running counts of the cases, kept by ``portal.domain.supervision.tallies`` in the same
transaction as every change to a case or its lead assignments, so that whole-ledger figures (the
supervisor's dashboard, the public statistics) are sums over a few hundred rows instead of scans;
and the snapshots of the figures computed from them, shared by every process."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
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


class FigureSnapshot(Base):
    """Figures computed over whole tables (the public statistics), kept for every process
    of every machine (``portal.domain.snapshots``): the first process to need an entry
    after the data or the date moved computes it, the others read it here, so a county
    served by eight workers on two machines computes each township's figures once, not
    sixteen times. ``stamp`` is the data version and date the figures are exact for;
    ``claimed_at`` marks a process computing a newer one, so that the others wait for it
    rather than compute it again; ``body`` is JSON (never pickle: what is read back from
    the database is only ever data)."""

    __tablename__ = "figure_snapshots"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    stamp: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[dt.datetime]
    claimed_at: Mapped[dt.datetime | None]
