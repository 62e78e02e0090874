"""Hazard units, the cases handled about them, and the linkage trail."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    event,
    false,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, attributes, mapped_column, relationship

from portal.domain.clock import utcnow
from portal.domain.enums import (
    AssignmentRole,
    AssignmentState,
    CaseEventKind,
    CaseOutcome,
    CaseStatus,
    Channel,
    Severity,
    SupervisionLevel,
)
from portal.domain.models._types import enum_column
from portal.domain.models.accounts import User
from portal.domain.models.base import Base
from portal.domain.models.files import Attachment
from portal.domain.models.places import Category, Department, Township, VenueType, Village

if TYPE_CHECKING:
    from portal.domain.models.legal import CaseClock, CaseDocument


class Unit(Base):
    """The place a hazard is at (隐患单位). Disclosure is per unit."""

    __tablename__ = "units"
    __table_args__ = (Index(None, "village_id", "normalized_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    normalized_name: Mapped[str] = mapped_column(String(100), index=True)
    venue_type_id: Mapped[int | None] = mapped_column(ForeignKey("venue_types.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The register of places (底数, issue 22). The responsible person and their contact are
    # business data, encrypted like reporters' details and never public.
    responsible_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    contact_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # "low" | "normal" | "high": random checks draw high-risk units more often.
    risk_level: Mapped[str] = mapped_column(String(16), default="normal",
                                            server_default=text("'normal'"))
    # Where the portal first knew the place: "report", "inspection", "census" or "ledger".
    source: Mapped[str] = mapped_column(String(16), default="report",
                                        server_default=text("'report'"))
    # The census file's own reference for the place, if it has one (re-imports match on it).
    census_ref: Mapped[str] = mapped_column(String(64), default="", server_default=text("''"))
    # A duplicate merged into another unit: its cases and reports moved there; it stays, so
    # old links and the trail still resolve.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    updated_at: Mapped[dt.datetime | None]

    venue_type: Mapped[VenueType | None] = relationship()
    village: Mapped[Village] = relationship()
    cases: Mapped[list[Case]] = relationship(back_populates="unit", order_by="Case.id")


# The columns the public list filters by (``publication._filtered``) and those the ledger
# filters by (``ledger.conditions``), carried by their indexes on PostgreSQL (migration 0018).
FILTERED = ("village_id", "category_id", "venue_type_id", "status", "severity",
            "supervision_level")
LEDGER_FILTERED = (*FILTERED, "check_by", "rectify_by")


class Case(Base):
    """One hazard being handled (隐患/工单). Overdue is derived from the due dates."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(
            "(status = 'closed') = (closed_at IS NOT NULL AND outcome IS NOT NULL)",
            name="closed_has_time_and_outcome",
        ),
        CheckConstraint(
            "status NOT IN ('rectifying', 'rectified') OR confirmed_at IS NOT NULL",
            name="rectifying_is_confirmed",
        ),
        CheckConstraint(
            "outcome IS NULL OR outcome <> 'rectified' OR confirmed_at IS NOT NULL",
            name="rectified_outcome_is_confirmed",
        ),
        CheckConstraint(
            "NOT disclosed OR (disclosed_at IS NOT NULL AND confirmed_at IS NOT NULL)",
            name="disclosed_is_confirmed",
        ),
        CheckConstraint(
            "status IN ('triage', 'routed') OR routed_at IS NOT NULL", name="worked_is_routed"
        ),
        Index(None, "status", "id"),
        Index(None, "village_id", "status"),
        Index(None, "category_id", "status"),
        Index(None, "disclosed", "disclosed_at", "id"),
        # The public list filtered by one dimension, newest disclosure first: each walks only
        # the disclosed cases of that village, category, status or severity (or the listed
        # ones), so a filtered later page costs its rows, not a walk past the others. On
        # PostgreSQL each also carries the other filters' columns, so that a second filter
        # is checked in the index (an index-only walk) and not on each row's table page.
        *(Index(f"ix_cases_public_{column}", column, "disclosed_at", "id",
                postgresql_where=text("disclosed IS true"), sqlite_where=text("disclosed IS 1"),
                postgresql_include=[c for c in FILTERED if c != column])
          for column in ("village_id", "category_id", "venue_type_id", "status", "severity")),
        # A township's statistics: its villages' cases confirmed per month, and its open
        # major hazards at each month's end, read village by village (issue 18).
        Index(None, "village_id", "confirmed_at"),
        Index(None, "village_id", "severity", "confirmed_at", "closed_at"),
        Index(None, "village_id", "rectified_at", "rectify_by"),
        Index("ix_cases_public_listed", "disclosed_at", "id",
              postgresql_where=text("disclosed IS true AND supervision_level <> 'none'"),
              sqlite_where=text("disclosed IS 1 AND supervision_level <> 'none'"),
              postgresql_include=list(FILTERED)),
        # The ledger filtered by a village, a category or a severity (or the listed cases),
        # newest case first: the page's ids walk one of these in the ledger's order, the other
        # filters checked in the index on PostgreSQL, then only the page's rows are read.
        *(Index(f"ix_cases_ledger_{column}", column, "id",
                postgresql_include=[c for c in LEDGER_FILTERED if c != column])
          for column in ("village_id", "category_id", "severity")),
        Index("ix_cases_ledger_listed", "id",
              postgresql_where=text("supervision_level <> 'none'"),
              sqlite_where=text("supervision_level <> 'none'"),
              postgresql_include=list(LEDGER_FILTERED)),
        Index(None, "status", "check_by"),
        Index(None, "status", "rectify_by"),
        Index(None, "severity", "status", "created_at", "closed_at"),
        Index(None, "supervision_level", "status"),
        Index(None, "created_at"),
        Index(None, "confirmed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # Copied from the unit when the case opens, so lists filter on this table's indexes.
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    # The unit's venue type, copied (and kept, ``_copy_venue_types``) so that the public list
    # filters by it on this table's own index; the unit's own reference is the constraint.
    venue_type_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "case_channel"))
    severity: Mapped[Severity] = mapped_column(
        enum_column(Severity, "severity"), default=Severity.GENERAL
    )
    status: Mapped[CaseStatus] = mapped_column(
        enum_column(CaseStatus, "case_status"), default=CaseStatus.TRIAGE
    )
    outcome: Mapped[CaseOutcome | None] = mapped_column(enum_column(CaseOutcome, "case_outcome"))
    internal_summary: Mapped[str] = mapped_column(Text, default="")
    # Redacted text for the public; only ever shown once a moderator discloses the case.
    public_summary: Mapped[str] = mapped_column(Text, default="")
    supervision_level: Mapped[SupervisionLevel] = mapped_column(
        enum_column(SupervisionLevel, "supervision_level"), default=SupervisionLevel.NONE
    )
    routed_at: Mapped[dt.datetime | None]
    check_by: Mapped[dt.datetime | None]
    checked_at: Mapped[dt.datetime | None]
    confirmed_at: Mapped[dt.datetime | None]
    rectify_by: Mapped[dt.date | None] = mapped_column(Date)
    rectify_notice_no: Mapped[str] = mapped_column(String(64), default="")
    rectified_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    follow_up_by: Mapped[dt.date | None] = mapped_column(Date)
    disclosed: Mapped[bool] = mapped_column(default=False)
    disclosed_at: Mapped[dt.datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # A case imported from an existing hazard ledger (issue 22), with its real dates; the key
    # (the file's own reference, else unit, category and discovery date, hashed with the
    # township) makes a second import of the same row change nothing.
    imported: Mapped[bool] = mapped_column(default=False, server_default=false())
    import_key: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    # Optimistic locking: two people moving the same case at once, one of them is told.
    version: Mapped[int] = mapped_column(default=1)

    # (mypy: the declarative base types this attribute as an instance variable.)
    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}  # type: ignore[misc]

    unit: Mapped[Unit] = relationship(back_populates="cases")
    village: Mapped[Village] = relationship()
    category: Mapped[Category] = relationship()
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="case", order_by="Assignment.id"
    )
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id"
    )
    # The legal clock beyond the §18 check, and the documents served (models/legal.py).
    clocks: Mapped[list[CaseClock]] = relationship(
        back_populates="case", order_by="CaseClock.id"
    )
    documents: Mapped[list[CaseDocument]] = relationship(
        back_populates="case", order_by="CaseDocument.id"
    )


class Assignment(Base):
    """A hand-off of a case to a department (派单/移交). Never overwritten: a transfer or a
    return ends this row and a new one starts."""

    __tablename__ = "assignments"
    __table_args__ = (
        CheckConstraint(
            "state NOT IN ('returned', 'transferred', 'withdrawn', 'completed') "
            "OR ended_at IS NOT NULL",
            name="ended_has_time",
        ),
        CheckConstraint(
            "state NOT IN ('returned', 'transferred') OR end_reason <> ''",
            name="return_has_reason",
        ),
        CheckConstraint(
            "state <> 'accepted' OR accepted_at IS NOT NULL", name="accepted_has_time"
        ),
        Index(None, "department_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    role: Mapped[AssignmentRole] = mapped_column(enum_column(AssignmentRole, "assignment_role"))
    state: Mapped[AssignmentState] = mapped_column(
        enum_column(AssignmentState, "assignment_state"), default=AssignmentState.PENDING
    )
    routed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    routed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Set when a moderator overrides what the routing rules proposed.
    override_reason: Mapped[str] = mapped_column(Text, default="")
    accepted_at: Mapped[dt.datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[dt.datetime | None]
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    end_reason: Mapped[str] = mapped_column(Text, default="")
    # A transfer points at the assignment that took over.
    transferred_to_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"))

    case: Mapped[Case] = relationship(back_populates="assignments")
    department: Mapped[Department] = relationship()


class CaseEvent(Base):
    """The append-only timeline; events carrying ``public_text`` form the public progress."""

    __tablename__ = "case_events"
    __table_args__ = (Index(None, "case_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[CaseEventKind] = mapped_column(enum_column(CaseEventKind, "case_event_kind"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    internal_text: Mapped[str] = mapped_column(Text, default="")
    public_text: Mapped[str] = mapped_column(Text, default="")
    # Structured details of the step (old/new deadline, requested extension, …).
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()
    department: Mapped[Department | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(order_by=Attachment.id)


urging_notice_cases = Table(
    "urging_notice_cases",
    Base.metadata,
    Column("notice_id", ForeignKey("urging_notices.id", ondelete="CASCADE"), primary_key=True),
    Column("case_id", ForeignKey("cases.id"), primary_key=True, index=True),
)


class UrgingNotice(Base):
    """An urging notice (督促函) to a department about one or more overdue cases."""

    __tablename__ = "urging_notices"
    __table_args__ = (
        # Numbered per issuing office (a township's, or the county's: 0) and year.
        Index("uq_urging_notices_office_year_seq", text("coalesce(township_id, 0)"), "year",
              "seq", unique=True),
        CheckConstraint("seq > 0", name="seq_positive"),
        Index(None, "department_id", "issued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    # The issuing office: the township whose supervisor sent it, NULL for the county's.
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"), index=True)
    year: Mapped[int]
    seq: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The department signs for the notice (签收) and answers it (回复); the supervisor sees both.
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[dt.datetime | None]
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    department: Mapped[Department] = relationship()
    township: Mapped[Township | None] = relationship()
    issued_by: Mapped[User] = relationship(foreign_keys=[issued_by_id])
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id])
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])
    cases: Mapped[list[Case]] = relationship(secondary=urging_notice_cases, order_by=Case.id)


def _venue_of(unit: Unit) -> int | None:
    """The unit's venue type as this flush will write it: a newly set relationship wins
    (its id is not yet copied to the column), else the column."""
    added = attributes.get_history(unit, "venue_type").added
    if added:
        return added[0].id if added[0] is not None else None
    return unit.venue_type_id


@event.listens_for(Session, "before_flush")
def _copy_venue_types(session: Session, _context: object, _instances: object) -> None:
    """Keep each case's copy of its unit's venue type: a case takes its unit's when it is
    added or moved to another unit, and a unit whose venue type changes hands it to all of
    its cases (those in the session, and the rest by one UPDATE)."""
    with session.no_autoflush:
        for obj in list(session.new) + list(session.dirty):
            if isinstance(obj, Case):
                moved = (obj in session.new
                         or attributes.get_history(obj, "unit_id").has_changes()
                         or attributes.get_history(obj, "unit").has_changes())
                if not moved:  # most flushes of a case change its status, not its unit
                    continue
                # A newly set relationship is the unit; else the column names it (a changed
                # unit_id is not yet reflected in the relationship).
                added = attributes.get_history(obj, "unit").added
                unit = added[0] if added and added[0] is not None \
                    else session.get(Unit, obj.unit_id)
                if unit is not None and obj.venue_type_id != _venue_of(unit):
                    obj.venue_type_id = _venue_of(unit)
            elif isinstance(obj, Unit) and obj not in session.new:
                if not (attributes.get_history(obj, "venue_type_id").has_changes()
                        or attributes.get_history(obj, "venue_type").has_changes()):
                    continue
                venue_id = _venue_of(obj)
                for case in list(session.identity_map.values()):
                    if isinstance(case, Case) and case.unit_id == obj.id:
                        case.venue_type_id = venue_id
                # On the table, not the ORM: the venue type is no dimension of the tallies,
                # so their guard against bulk UPDATEs of cases has nothing to keep here.
                table = cast(Table, Case.__table__)
                session.connection().execute(update(table).where(
                    table.c.unit_id == obj.id).values(venue_type_id=venue_id))
