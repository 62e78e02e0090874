"""The jurisdiction: the county's townships and their villages, departments, vocabularies,
routing rules and settings.

The deployment is one county (its name and defaults live in the ``jurisdiction`` setting); the
county has townships, a township has villages. Tips, cases and units belong to a township
through their village: the village is the only place the township is written, so moving a
village (or correcting a case's village) moves everything that hangs from it, and nothing can
disagree. A city above the county would be one more table above ``townships``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, String, Table, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.clock import utcnow
from portal.domain.enums import DepartmentKind
from portal.domain.models._types import enum_column
from portal.domain.models.base import Base


class Township(Base):
    """A township (乡镇) of the county: its own office, villages, staff and public pages."""

    __tablename__ = "townships"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The stable public address: /t/<code>/ (letters, digits, _ and -).
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    # The township's fire-safety office, which triages what no routing rule matches, and its
    # penalty authority; department codes, as in the jurisdiction setting ('' = the county's).
    office_department: Mapped[str] = mapped_column(String(32), default="")
    penalty_department: Mapped[str] = mapped_column(String(32), default="")
    contact: Mapped[str] = mapped_column(String(200), default="")


class Village(Base):
    """An administrative village (行政村) of one township."""

    __tablename__ = "villages"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    # Where the village committee sits: Open311 publishes this, never a home's own point.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)

    township: Mapped[Township] = relationship()


department_townships = Table(
    "department_townships",
    Base.metadata,
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
    Column("township_id", ForeignKey("townships.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)


class Department(Base):
    """A department in the linkage mechanism (部门联动机制).

    It belongs to the county (``township_id`` NULL: the fire brigade, the market supervision
    bureau) or to one township (its police station, law-enforcement team, village committees)
    and serves the townships listed in ``serves``; a township's own department serves exactly
    its township. Its officers see its assignments in those townships and nothing else.
    """

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[DepartmentKind] = mapped_column(enum_column(DepartmentKind, "department_kind"))
    contact: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Fire-supervision powers delegated to it (a township's law-enforcement team may hold
    # them): it may then issue the documents of 公安部令第120号 (casework/documents.py).
    fire_powers_delegated: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Its documents' numbers: generated here per kind and year ("auto"), or typed in from
    # the department's own system ("manual"); the prefix is its short name on them (阳消).
    document_numbering: Mapped[str] = mapped_column(String(16), default="auto",
                                                    server_default="auto")
    document_prefix: Mapped[str] = mapped_column(String(32), default="",
                                                 server_default=text("''"))

    village: Mapped[Village | None] = relationship()
    township: Mapped[Township | None] = relationship()
    serves: Mapped[list[Township]] = relationship(secondary=department_townships,
                                                  order_by=Township.sort_order)


class Category(Base):
    """A hazard category (隐患类别); ``code`` is also its Open311 ``service_code``."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    # Blocked escape routes and disabled fire facilities: on-site check within 24 hours.
    urgent: Mapped[bool] = mapped_column(default=False)
    # The category's own §18 check limit, in hours or in working days (at most one is set,
    # which the vocabulary's validation keeps);
    # neither: the legal maximum (24 hours if urgent, else 3 working days). casework/limits.py
    # validates and reads them.
    check_hours: Mapped[int | None]
    check_working_days: Mapped[int | None]
    # Violations that need administrative-penalty powers bring in the law-enforcement team.
    needs_penalty: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)


class VenueType(Base):
    """A kind of place (场所类型)."""

    __tablename__ = "venue_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)


# The county's shared vocabulary entries a township does not use (a township may switch a
# category or a venue type off for itself; the county keeps it for the others).
township_categories_off = Table(
    "township_categories_off",
    Base.metadata,
    Column("township_id", ForeignKey("townships.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)
township_venue_types_off = Table(
    "township_venue_types_off",
    Base.metadata,
    Column("township_id", ForeignKey("townships.id", ondelete="CASCADE"), primary_key=True),
    Column("venue_type_id", ForeignKey("venue_types.id", ondelete="CASCADE"),
           primary_key=True, index=True),
)


routing_rule_assists = Table(
    "routing_rule_assists",
    Base.metadata,
    Column("rule_id", ForeignKey("routing_rules.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id"), primary_key=True),
)


class RoutingRule(Base):
    """(category?, venue type?, village?) → a lead department and assisting departments.

    A rule is the county's default (``township_id`` NULL) or one township's own. The rule
    naming the most criteria wins; among equals a township's own rule overrides the county's
    default, then the higher priority.
    """

    __tablename__ = "routing_rules"
    __table_args__ = (Index(None, "active", "category_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    venue_type_id: Mapped[int | None] = mapped_column(ForeignKey("venue_types.id"))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"), index=True)
    lead_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    priority: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str] = mapped_column(String(200), default="")

    category: Mapped[Category | None] = relationship()
    venue_type: Mapped[VenueType | None] = relationship()
    village: Mapped[Village | None] = relationship()
    township: Mapped[Township | None] = relationship()
    lead_department: Mapped[Department] = relationship()
    assisting_departments: Mapped[list[Department]] = relationship(
        secondary=routing_rule_assists, order_by=Department.id
    )

    @property
    def specificity(self) -> int:
        return sum(x is not None for x in (self.category_id, self.venue_type_id, self.village_id))


class Setting(Base):
    """Admin-editable settings that belong to the jurisdiction, not the deployment."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
