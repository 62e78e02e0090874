"""Audit labels of the field part of issue 22 (merged by portal.domain.access.audit_labels)."""

ACTIONS: dict[str, str] = {}
FIELDS: dict[str, str] = {}
OBJECTS: dict[str, str] = {}
