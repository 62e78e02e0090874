"""Audit labels of the rounds part of issue 22 (merged by portal.domain.access.audit_labels)."""

ACTIONS: dict[str, str] = {
    "round.plan": "部署排查",
    "task.complete": "登记检查结果",
    "draw.make": "双随机抽取",
    "check.publish": "公开抽查结果",
    "check.refuse": "不予公开抽查结果",
}
FIELDS: dict[str, str] = {
    "kind": "类型",
    "name": "名称",
    "township_id": "乡镇编号",
    "tasks": "任务数",
    "inspector_ids": "检查人员编号",
    "village_ids": "村编号",
    "venue_type_ids": "场所类型编号",
    "starts_on": "开始日期",
    "ends_on": "结束日期",
    "result": "检查结果",
    "case_id": "案件编号",
    "problems": "存在问题的检查项",
    "photos": "照片数",
    "location_source": "位置来源",
    "publication": "公开状态",
    "seed": "随机种子",
    "department_id": "部门编号",
    "unit_ids": "涉及场所编号",
    "candidates": "候选场所数",
    "weights_version": "权重版本",
    "redraw_of": "重新抽取的原抽取编号",
    "reason": "理由",
}
OBJECTS: dict[str, str] = {
    "inspection_round": "排查",
    "inspection_task": "检查任务",
    "random_draw": "双随机抽取",
}
