"""Audit labels of the rounds part of issue 22 (merged by portal.domain.access.audit_labels)."""

ACTIONS: dict[str, str] = {}
FIELDS: dict[str, str] = {}
OBJECTS: dict[str, str] = {}
