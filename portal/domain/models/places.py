"""The jurisdiction: villages, departments, vocabularies, routing rules and settings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.clock import utcnow
from portal.domain.enums import DepartmentKind
from portal.domain.models._types import enum_column
from portal.domain.models.base import Base


class Village(Base):
    """An administrative village (行政村)."""

    __tablename__ = "villages"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    # Where the village committee sits: Open311 publishes this, never a home's own point.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


class Department(Base):
    """A department in the linkage mechanism (部门联动机制)."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[DepartmentKind] = mapped_column(enum_column(DepartmentKind, "department_kind"))
    contact: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    active: Mapped[bool] = mapped_column(default=True)

    village: Mapped[Village | None] = relationship()


class Category(Base):
    """A hazard category (隐患类别); ``code`` is also its Open311 ``service_code``."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    # Blocked escape routes and disabled fire facilities: on-site check within 24 hours.
    urgent: Mapped[bool] = mapped_column(default=False)
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


routing_rule_assists = Table(
    "routing_rule_assists",
    Base.metadata,
    Column("rule_id", ForeignKey("routing_rules.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id"), primary_key=True),
)


class RoutingRule(Base):
    """(category?, venue type?, village?) → a lead department and assisting departments.

    The rule naming the most criteria wins; among equals, the higher priority.
    """

    __tablename__ = "routing_rules"
    __table_args__ = (Index(None, "active", "category_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    venue_type_id: Mapped[int | None] = mapped_column(ForeignKey("venue_types.id"))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    lead_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    priority: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str] = mapped_column(String(200), default="")

    category: Mapped[Category | None] = relationship()
    venue_type: Mapped[VenueType | None] = relationship()
    village: Mapped[Village | None] = relationship()
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
