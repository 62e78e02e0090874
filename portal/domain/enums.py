"""The domain's closed vocabularies. Values are stored; labels are what people read."""

from __future__ import annotations

import enum


class LabeledEnum(enum.StrEnum):
    """A string enum whose members carry a Chinese label for the interface."""

    label: str

    def __new__(cls, value: str, label: str = "") -> LabeledEnum:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(m.value, m.label) for m in cls]


class Channel(LabeledEnum):
    WEB = "web", "网上举报"
    PHONE = "phone", "电话举报"
    VISIT = "visit", "来访举报"
    GRID = "grid", "网格员上报"
    API = "api", "合作渠道"
    INSPECTION = "inspection", "排查巡查"


class TipStatus(LabeledEnum):
    PENDING = "pending", "待审核"
    ACCEPTED = "accepted", "已受理"
    REJECTED = "rejected", "不予受理"
    MERGED = "merged", "已合并"


class RatingAnswer(LabeledEnum):
    """The reporter's answer at the follow-up (回访/评价, issue 21)."""

    SATISFIED = "satisfied", "满意"
    BASICALLY = "basically", "基本满意"
    DISSATISFIED = "dissatisfied", "不满意"


class RatingSource(LabeledEnum):
    TRACK = "track", "举报查询页"
    SMS_LINK = "sms_link", "短信链接"
    PHONE = "phone", "电话回访"


class RejectReason(LabeledEnum):
    SPAM = "spam", "无效或恶意信息"
    DUPLICATE = "duplicate", "重复举报"
    OUT_OF_SCOPE = "out_of_scope", "不属于消防隐患受理范围"
    INSUFFICIENT = "insufficient", "信息不足，无法核查"


class Severity(LabeledEnum):
    GENERAL = "general", "一般隐患"
    MAJOR = "major", "重大隐患"


class CaseStatus(LabeledEnum):
    TRIAGE = "triage", "待分派"
    ROUTED = "routed", "已派单"
    CHECKING = "checking", "核查中"
    RECTIFYING = "rectifying", "整改中"
    RECTIFIED = "rectified", "待销案"
    # The check found the tip unfounded (不属实); the supervisor's closure review follows.
    UNFOUNDED = "unfounded", "不属实待审核"
    CLOSED = "closed", "已办结"


class CaseOutcome(LabeledEnum):
    RECTIFIED = "rectified", "隐患已整改"
    UNFOUNDED = "unfounded", "经核查不属实"


class SupervisionLevel(LabeledEnum):
    NONE = "none", "未挂牌"
    TOWNSHIP = "township", "乡级挂牌督办"
    COUNTY = "county", "县级挂牌督办"
    CITY = "city", "市级挂牌督办"
    PROVINCE = "province", "省级挂牌督办"


class AssignmentRole(LabeledEnum):
    LEAD = "lead", "牵头部门"
    ASSIST = "assist", "配合部门"


class AssignmentState(LabeledEnum):
    PENDING = "pending", "待签收"
    ACCEPTED = "accepted", "已签收"
    RETURNED = "returned", "已退回"
    TRANSFERRED = "transferred", "已移交"
    WITHDRAWN = "withdrawn", "已撤回"
    COMPLETED = "completed", "已完成"


class CaseEventKind(LabeledEnum):
    OPENED = "opened", "立案"
    TIP_LINKED = "tip_linked", "合并举报"
    ROUTED = "routed", "派单"
    ACCEPTED = "accepted", "部门签收"
    RETURNED = "returned", "部门退回"
    TRANSFERRED = "transferred", "移交"
    CHECK_CONFIRMED = "check_confirmed", "核查属实"
    CHECK_UNFOUNDED = "check_unfounded", "核查不属实"
    DEADLINE_SET = "deadline_set", "下达整改期限"
    PROGRESS = "progress", "整改进展"
    EXTENSION_REQUESTED = "extension_requested", "申请延期"
    EXTENSION_DECIDED = "extension_decided", "延期审批"
    RECTIFICATION_REPORTED = "rectification_reported", "报告整改完成"
    SENT_BACK = "sent_back", "退回继续整改"
    CLOSED = "closed", "销案"
    FOLLOW_UP_OK = "follow_up_ok", "回头看：整改保持"
    REOPENED = "reopened", "回头看：隐患反弹，重新整改"
    SEVERITY_CHANGED = "severity_changed", "隐患等级调整"
    SUPERVISION_CHANGED = "supervision_changed", "督办等级调整"
    URGED = "urged", "督促函"
    DISCLOSED = "disclosed", "公开"
    DISCLOSURE_WITHDRAWN = "disclosure_withdrawn", "撤回公开"
    NOTE = "note", "备注"
    # Issue 20: the legal clock's steps.
    UNFOUNDED_APPROVED = "unfounded_approved", "不属实审核通过，办结"
    UNFOUNDED_REFUSED = "unfounded_refused", "不属实未获通过，重新核查"
    DOCUMENT_ISSUED = "document_issued", "制发文书"
    REINSPECTION_APPLIED = "reinspection_applied", "单位申请复查"
    MAJOR_SUSPECTED = "major_suspected", "疑似重大火灾隐患"
    MAJOR_JUDGED = "major_judged", "重大火灾隐患集体判定"
    EXPERT_REVIEW = "expert_review", "专家论证"


class MessageDirection(LabeledEnum):
    TO_REPORTER = "to_reporter", "乡消安办"
    FROM_REPORTER = "from_reporter", "举报人"


class Role(LabeledEnum):
    ADMIN = "admin", "系统管理员"
    MODERATOR = "moderator", "审核员"
    SUPERVISOR = "supervisor", "督办人员"
    OFFICER = "officer", "部门经办人"
    GRID_INSPECTOR = "grid_inspector", "网格员"


class DepartmentKind(LabeledEnum):
    SAFETY_OFFICE = "safety_office", "乡消安办"
    FIRE_STATION = "fire_station", "消防救援站"
    POLICE_STATION = "police_station", "派出所"
    LAW_ENFORCEMENT = "law_enforcement", "综合行政执法队"
    MARKET_SUPERVISION = "market_supervision", "市场监管所"
    EMERGENCY = "emergency", "应急办"
    HOUSING = "housing", "住建规划"
    CULTURAL_RELICS = "cultural_relics", "文物"
    EDUCATION = "education", "教育"
    HEALTH = "health", "卫健"
    CIVIL_AFFAIRS = "civil_affairs", "民政"
    VILLAGE_COMMITTEE = "village_committee", "村委会"
    OTHER = "other", "其他"


class AttachmentKind(LabeledEnum):
    PHOTO = "photo", "照片"
    DOCUMENT = "document", "文件"


class JobStatus(LabeledEnum):
    """Where a background job stands (portal/domain/jobs.py)."""

    QUEUED = "queued", "排队中"
    RUNNING = "running", "进行中"
    DONE = "done", "已完成"
    FAILED = "failed", "失败"
