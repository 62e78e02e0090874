"""Audit labels of the register part of issue 22 (merged by portal.domain.access.audit_labels)."""

ACTIONS: dict[str, str] = {
    "unit.edit": "修改场所底数",
    "unit.merge": "合并重复场所",
    "census.import": "导入场所普查底数",
}
FIELDS: dict[str, str] = {
    "address": "地址",
    "risk_level": "风险等级",
    "responsible_changed": "负责人已修改",
    "contact_changed": "联系电话已修改",
    "merged_into_id": "合并到场所编号",
    "inspection_tasks": "移交的检查任务",
    "tasks_cancelled": "取消的重复检查任务",
    "self_check_codes": "移交的自查码",
    "self_checks": "移交的自查记录",
    "filled": "从重复场所补全的内容",
    "file": "文件",
    "rows": "行数",
    "unchanged": "未变",
    "unit_ids": "涉及场所编号",
}
OBJECTS: dict[str, str] = {
    "unit": "场所",
}
