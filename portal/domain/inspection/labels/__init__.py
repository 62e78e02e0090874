"""The audit labels of issue 22's modules, one file per part, merged here."""

from portal.domain.inspection.labels import field, history, register, rounds, selfcheck

PARTS = (register, rounds, field, selfcheck, history)
ACTIONS: dict[str, str] = {k: v for part in PARTS for k, v in part.ACTIONS.items()}
FIELDS: dict[str, str] = {k: v for part in PARTS for k, v in part.FIELDS.items()}
OBJECTS: dict[str, str] = {k: v for part in PARTS for k, v in part.OBJECTS.items()}
