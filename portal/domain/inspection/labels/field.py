"""Audit labels of the field part of issue 22 (field filings, grid inspectors' accounts, risk
warnings), merged by portal.domain.access.audit_labels."""

ACTIONS: dict[str, str] = {
    "tip.field_file": "现场上报隐患",
    "tip.accept_own_filing": "本部门现场上报直接转入本部门办理",
    "warning.create": "起草风险预警提示",
    "warning.publish": "发布风险预警提示并发送短信",
    "warning.withdraw": "撤回风险预警提示",
}
FIELDS: dict[str, str] = {
    "photos": "照片数",
    "located": "已记录位置",
    "sms_count": "发送短信数",
    "units_in_scope": "范围内单位数",
    "starts_on": "开始日期",
    "ends_on": "结束日期",
    "village_ids": "范围内的村",
    "venue_type_ids": "范围内的场所类型",
    "township_id": "乡镇",
    "published": "已发布",
    "withdrawn": "已撤回",
}
OBJECTS: dict[str, str] = {
    "warning": "风险预警提示",
}
