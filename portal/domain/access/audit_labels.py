"""What the audit page reads out: a Chinese label for every action the code base records and
every field its rows hold, and the row's data as readable lines.

The one table of these labels; ``tests/admin/test_walk_fixes.py`` walks every
``audit.record(…)`` call in the code and fails when an action or a field has none here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.domain.enums import CaseEventKind

# The admin lists whose edits are audited as ``{kind}.create`` / ``{kind}.update``.
RECORD_KINDS: dict[str, str] = {
    "township": "乡镇",
    "village": "行政村",
    "department": "部门",
    "category": "隐患类别",
    "venue_type": "场所类型",
    "routing_rule": "分派规则",
}

_ACTIONS: dict[str, str] = {
    "audit.keyed": "审计日志启用密钥签名",
    "api_key.issue": "签发接口密钥",
    "api_key.revoke": "停用接口密钥",
    "attachment.blur": "照片打码",
    "attachment.withhold": "照片不予使用",
    "auth.lock": "账户因密码错误被锁定",
    "auth.login": "登录后台",
    "auth.totp_enrol": "绑定动态口令",
    "auth.totp_reset": "重置动态口令",
    "bulletin.draft": "起草通报",
    "bulletin.edit": "修改通报",
    "bulletin.publish": "发布通报",
    "calendar.import": "录入节假日安排",
    "case.open": "巡查直接立案",
    "user.sms_reminders": "设置短信提醒",
    "document.issue": "制发执法文书",
    "jurisdiction.load": "导入辖区数据",
    "rating.answer": "答复不满意评价",
    "rating.record": "登记回访评价",
    "rating.reopen": "因不满意评价重新办理",
    "retention.erase_identity": "到期清除举报人身份",
    "retention.purge_spam": "到期清除无效举报",
    "reward.approve": "批准举报奖励",
    "reward.claim": "登记领取举报奖励（已当面核验身份）",
    "reward.expire": "举报奖励逾期未领取",
    "reward.pay": "登记发放举报奖励",
    "reward.propose": "提出举报奖励",
    "reward.refuse": "不予举报奖励",
    "reward.reveal_payee": "查看举报奖励领取人",
    "settings.require_2fa": "设置强制动态口令",
    "tip.accept": "受理举报",
    "tip.ask": "向举报人询问",
    "tip.create": "收到举报",
    "tip.merge": "合并举报",
    "tip.redact": "修改举报描述",
    "tip.reject": "不予受理举报",
    "tip.reveal_identity": "查看举报人身份",
    "tip.withdraw_identity": "举报人撤回个人信息",
    "urging.issue": "发送督促函",
    "urging.acknowledge": "签收督促函",
    "urging.answer": "回复督促函",
    "user.create": "新建用户",
    "user.deactivate": "停用用户",
    "user.end_sessions": "强制用户下线",
    "user.reactivate": "重新启用用户",
    "user.set_password": "设置用户密码",
    "user.update": "修改用户",
}

ACTION_LABELS: dict[str, str] = {
    **_ACTIONS,
    **{f"case.{kind.value}": f"工单{kind.label}" for kind in CaseEventKind},
    **{f"{kind}.create": f"新增{label}" for kind, label in RECORD_KINDS.items()},
    **{f"{kind}.update": f"修改{label}" for kind, label in RECORD_KINDS.items()},
    "category.township_off": "乡镇停用隐患类别",
    "category.township_on": "乡镇恢复使用隐患类别",
    "venue_type.township_off": "乡镇停用场所类型",
    "venue_type.township_on": "乡镇恢复使用场所类型",
    # inspections and the register of places (issue 22)
    "unit.edit": "修改场所底数",
    "unit.merge": "合并重复场所",
    "census.import": "导入场所普查底数",
    "round.plan": "部署排查",
    "task.complete": "登记检查结果",
    "draw.make": "双随机抽取",
    "check.publish": "公开抽查结果",
    "check.refuse": "不予公开抽查结果",
    "tip.field_file": "现场上报隐患",
    "tip.accept_own_filing": "本部门现场上报直接转入本部门办理",
    "warning.create": "起草风险预警提示",
    "warning.publish": "发布风险预警提示并发送短信",
    "warning.withdraw": "撤回风险预警提示",
    "selfcheck.code_issue": "发放单位自查码",
    "selfcheck.code_revoke": "撤销单位自查码",
    "selfcheck.submit": "单位提交自查和消防安全承诺",
    "selfcheck.fixed": "登记单位自查问题已整改",
    "selfcheck.overdue_case": "单位自查问题逾期未整改，转为工单",
    "history.import": "导入历史隐患台账",
}

FIELD_LABELS: dict[str, str] = {
    # cases and tips
    "rating": "评价",
    "source": "评价方式",
    "status": "状态",
    "case_id": "工单编号",
    "unit_id": "单位编号",
    "category_id": "隐患类别编号",
    "venue_type_id": "场所类型编号",
    "village_id": "行政村编号",
    "township": "乡镇",
    "township_id": "乡镇编号",
    "in_use": "本乡镇使用",
    "townships": "乡镇",
    "serves": "服务的乡镇",
    "office_department": "乡镇消安办",
    "penalty_department": "行政处罚部门",
    "channel": "来源渠道",
    "reason": "原因",
    "message_id": "留言编号",
    "field": "修改的内容",
    "revision_id": "修改记录编号",
    "had_name": "留有姓名",
    "had_phone": "留有电话",
    # rewards
    "tip_id": "举报编号",
    "band": "奖励标准",
    "amount": "奖励金额（元）",
    "amount_min": "标准下限（元）",
    "amount_max": "标准上限（元）",
    "claim_by": "领取截止日期",
    "identity_checked": "已当面核验身份证件",
    "staff_declared": "已声明非成员单位工作人员",
    "paid_on": "发放日期",
    "payment_method": "发放方式",
    "callbacks_removed": "撤销的回电请求",
    "event_id": "工单记录编号",
    "kind": "类型",
    "department": "部门",
    "severity": "隐患等级",
    "supervision_level": "督办等级",
    "routed_at": "派单时间",
    "check_by": "核查期限",
    "checked_at": "核查时间",
    "confirmed_at": "核查属实时间",
    "rectify_by": "整改期限",
    "rectify_notice_no": "责令整改通知书文号",
    "check_hours": "核查时限（小时）",
    "mobile_set": "已填写手机号码",
    "notify_sms": "短信提醒",
    "check_working_days": "核查时限（工作日）",
    "fire_powers_delegated": "已赋予消防监督执法权",
    "document_numbering": "文书编号方式",
    "document_prefix": "文书编号代字",
    "issued_on": "制发日期",
    "rectified_at": "整改完成时间",
    "closed_at": "销案时间",
    "outcome": "办理结果",
    "follow_up_by": "回头看期限",
    "disclosed": "已公开",
    "disclosed_at": "公开时间",
    "public_summary": "公开摘要",
    "public_photos": "公开照片",
    "photos_unpublished": "撤下的照片",
    # photos
    "withheld": "不予使用",
    "copy_id": "打码副本编号",
    "original_withheld": "原图不予使用",
    # accounts and keys
    "username": "用户名",
    "role": "角色",
    "display_name": "姓名",
    "totp_required": "须用动态口令",
    "active": "启用",
    "failed_logins": "连续密码错误次数",
    "locked_until": "锁定至",
    "sessions_ended": "结束的会话数",
    "replaced": "替换了原口令",
    "value": "设置值",
    "partner": "合作方",
    "prefix": "密钥前缀",
    # supervision
    "number": "文号",
    "acknowledged_at": "签收时间",
    "acknowledged_now": "回复时一并签收",
    "answer": "回复内容",
    "answered_at": "回复时间",
    "cases": "涉及工单",
    "period": "统计期间",
    "title": "标题",
    "text": "正文",
    "masked": "已遮蔽的内容",
    # administration
    "notice": "依据文件",
    "holidays": "放假天数",
    "workdays": "调休上班天数",
    "created": "新增",
    "updated": "更新",
    "deactivated": "停用",
    "tips": "举报条数",
    "code": "代码",
    "name": "名称",
    "description": "说明",
    "urgent": "紧急",
    "needs_penalty": "需要处罚",
    "sort_order": "排序",
    "contact": "联系方式",
    "latitude": "纬度",
    "longitude": "经度",
    "email": "电子邮箱",
    "lead_department_id": "牵头部门编号",
    "assist": "配合部门编号",
    "priority": "优先级",
    "note": "备注",
    # the chain itself
    "unkeyed_head": "启用密钥前的链头",
    "row_id": "记录编号",
    "hash": "哈希",
    **RECORD_KINDS,
    # the jurisdiction loader counts rows per table
    "villages": "行政村",
    "departments": "部门",
    "categories": "隐患类别",
    "venue_types": "场所类型",
    "routing_rules": "分派规则",
    # inspections and the register of places (issue 22)
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
    "unchanged": "未变（已导入过）",
    "unit_ids": "涉及场所编号",
    "tasks": "任务数",
    "inspector_ids": "检查人员编号",
    "village_ids": "范围内的村",
    "venue_type_ids": "范围内的场所类型",
    "starts_on": "开始日期",
    "ends_on": "结束日期",
    "result": "检查结果",
    "problems": "存在问题的检查项",
    "photos": "照片数",
    "location_source": "位置来源",
    "publication": "公开状态",
    "seed": "随机种子",
    "department_id": "部门编号",
    "candidates": "候选场所数",
    "weights_version": "权重版本",
    "redraw_of": "重新抽取的原抽取编号",
    "located": "已记录位置",
    "sms_count": "发送短信数",
    "units_in_scope": "范围内单位数",
    "published": "已发布",
    "withdrawn": "已撤回",
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
    "remaining": "待下次导入",
}


OBJECT_LABELS: dict[str, str] = {
    "tip": "举报",
    "reward": "举报奖励",
    "case": "工单",
    "rating": "回访评价",
    "attachment": "照片",
    "user": "用户",
    "api_key": "接口密钥",
    "bulletin": "通报",
    "urging_notice": "督促函",
    "case_document": "执法文书",
    "calendar_year": "节假日安排",
    "jurisdiction": "辖区",
    "setting": "设置",
    "audit_log": "审计日志",
    **RECORD_KINDS,
    "unit": "场所",
    "inspection_round": "排查",
    "inspection_task": "检查任务",
    "random_draw": "双随机抽取",
    "warning": "风险预警提示",
    "self_check_code": "单位自查码",
    "self_check": "单位自查",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def object_label(object_type: str) -> str:
    return OBJECT_LABELS.get(object_type, object_type)


def field_label(field: str) -> str:
    return FIELD_LABELS.get(field, field)


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Mapping):
        return "；".join(f"{field_label(str(k))}：{_text(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return "、".join(_text(v) for v in value) or "—"
    return str(value)


def readable(data: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """A row's ``before`` or ``after`` as (label, text) lines, in the order it was written."""
    return [(field_label(key), _text(value)) for key, value in (data or {}).items()]
