"""Audit labels of the selfcheck part of issue 22 (merged by portal.domain.access.audit_labels)."""

ACTIONS: dict[str, str] = {
    "selfcheck.code_issue": "发放单位自查码",
    "selfcheck.code_revoke": "撤销单位自查码",
    "selfcheck.submit": "单位提交自查和消防安全承诺",
    "selfcheck.fixed": "登记单位自查问题已整改",
    "selfcheck.overdue_case": "单位自查问题逾期未整改，转为工单",
}
FIELDS: dict[str, str] = {
    "unit_id": "单位",
    "cycle": "自查周期",
    "expires_at": "有效期至",
    "revoked_codes": "同时撤销的旧自查码",
    "code_id": "自查码",
    "checklist_code": "检查表",
    "checklist_version": "检查表版本",
    "problem_items": "存在问题的检查项",
    "fix_by": "单位自定整改期限",
    "commitment_version": "承诺书版本",
    "fixed_at": "整改完成时间",
    "case_id": "工单",
}
OBJECTS: dict[str, str] = {
    "self_check_code": "单位自查码",
    "self_check": "单位自查",
}
