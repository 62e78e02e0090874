"""Every table of the domain; importing this package registers them all on the metadata."""

from portal.domain.models.accounts import User
from portal.domain.models.api_keys import ApiKey
from portal.domain.models.audit import AuditLog
from portal.domain.models.calendar import CalendarDay, CalendarYear
from portal.domain.models.cases import (
    Assignment,
    Case,
    CaseEvent,
    Unit,
    UrgingNotice,
    urging_notice_cases,
)
from portal.domain.models.files import Attachment
from portal.domain.models.inspections import (
    InspectionRound,
    InspectionTask,
    Publication,
    RandomDraw,
    RiskWarning,
    RoundKind,
    SelfCheck,
    SelfCheckCode,
    TaskResult,
    TaskStatus,
)
from portal.domain.models.jobs import Job
from portal.domain.models.legal import CaseClock, CaseDocument
from portal.domain.models.notifications import Notification
from portal.domain.models.places import (
    Category,
    Department,
    RoutingRule,
    Setting,
    Township,
    VenueType,
    Village,
    department_townships,
    routing_rule_assists,
    township_categories_off,
    township_venue_types_off,
)
from portal.domain.models.ratings import Rating, RatingToken
from portal.domain.models.rewards import Reward, RewardStatus
from portal.domain.models.search import SearchDocument, SearchGram
from portal.domain.models.sessions import StaffSession
from portal.domain.models.supervision import Bulletin, Listing, ListingInterview
from portal.domain.models.tallies import (
    CaseTally,
    CategoryTally,
    DepartmentTally,
    FigureSnapshot,
)
from portal.domain.models.tips import Message, Tip, TipRevision

__all__ = [
    "ApiKey",
    "Assignment",
    "Attachment",
    "AuditLog",
    "Bulletin",
    "CalendarDay",
    "CalendarYear",
    "Case",
    "CaseClock",
    "CaseDocument",
    "CaseEvent",
    "CaseTally",
    "Category",
    "CategoryTally",
    "Department",
    "DepartmentTally",
    "FigureSnapshot",
    "InspectionRound",
    "InspectionTask",
    "Job",
    "Listing",
    "ListingInterview",
    "Message",
    "Notification",
    "Publication",
    "RandomDraw",
    "Rating",
    "RatingToken",
    "Reward",
    "RewardStatus",
    "RiskWarning",
    "RoundKind",
    "RoutingRule",
    "SearchDocument",
    "SearchGram",
    "SelfCheck",
    "SelfCheckCode",
    "Setting",
    "StaffSession",
    "TaskResult",
    "TaskStatus",
    "Tip",
    "TipRevision",
    "Township",
    "Unit",
    "UrgingNotice",
    "User",
    "VenueType",
    "Village",
    "department_townships",
    "routing_rule_assists",
    "township_categories_off",
    "township_venue_types_off",
    "urging_notice_cases",
]

# The flush listeners that keep the tallies exact are part of the model: register them with it;
# so are those that keep the disclosures' search index (issue 19).
import portal.domain.disclosure.search as _search  # noqa: F401
from portal.domain.supervision import tallies as _tallies  # noqa: F401
