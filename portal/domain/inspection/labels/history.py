"""Audit labels of the history part of issue 22 (merged by portal.domain.access.audit_labels)."""

ACTIONS: dict[str, str] = {
    "history.import": "导入历史隐患台账",
}
FIELDS: dict[str, str] = {
    "file": "文件",
    "rows": "行数",
    "unchanged": "已导入过（不变）",
    "remaining": "待下次导入",
}
OBJECTS: dict[str, str] = {}
