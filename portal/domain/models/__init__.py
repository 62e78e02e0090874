"""Every table of the domain; importing this package registers them all on the metadata."""

from portal.domain.models.accounts import User
from portal.domain.models.audit import AuditLog
from portal.domain.models.cases import (
    Assignment,
    Case,
    CaseEvent,
    Unit,
    UrgingNotice,
    urging_notice_cases,
)
from portal.domain.models.files import Attachment
from portal.domain.models.places import (
    Category,
    Department,
    RoutingRule,
    Setting,
    VenueType,
    Village,
    routing_rule_assists,
)
from portal.domain.models.tips import Message, Tip

__all__ = [
    "Assignment",
    "Attachment",
    "AuditLog",
    "Case",
    "CaseEvent",
    "Category",
    "Department",
    "Message",
    "RoutingRule",
    "Setting",
    "Tip",
    "Unit",
    "UrgingNotice",
    "User",
    "VenueType",
    "Village",
    "routing_rule_assists",
    "urging_notice_cases",
]
