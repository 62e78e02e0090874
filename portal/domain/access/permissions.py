"""What each staff role may do. Views check permissions, never roles.

Names follow ``resource:action``; the role map is the only place that ties them to roles, so a
new screen needs a permission here and one line in the map, not ``if role == …`` in a view.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, select

from portal.domain.administration.townships import of_village
from portal.domain.enums import AssignmentState, LabeledEnum, Role
from portal.domain.models import Assignment, Case, Tip, User

# The assignment states in which a department holds a case (and so may read it).
HOLDING = (AssignmentState.PENDING, AssignmentState.ACCEPTED, AssignmentState.COMPLETED)


class Permission(LabeledEnum):
    QUEUE_VIEW = "queue:view", "查看待审核举报"
    TIPS_MODERATE = "tips:moderate", "审核举报"
    TIPS_ENTER = "tips:enter", "代录电话、来访、网格员举报"
    TIPS_ORIGINAL_READ = "tips:original:read", "查看举报原文与修改记录"
    IDENTITY_READ = "identity:read", "查看举报人身份"
    CASES_OPEN = "cases:open", "排查巡查直接立案"
    CASES_ROUTE = "cases:route", "分派工单"
    CASES_READ = "cases:read", "查看工单（部门经办人仅限本部门）"
    CASES_READ_ALL = "cases:read:all", "查看全部部门的工单"
    CASES_WORK = "cases:work", "办理本部门工单"
    CASES_SUPERVISE = "cases:supervise", "督办与销案"
    CASES_CLOSE = "cases:close", "审批销案、退回整改与延期申请"
    CASES_FOLLOW_UP = "cases:follow_up", "登记回头看"
    USERS_MANAGE = "users:manage", "管理用户"
    VOCABULARY_MANAGE = "vocabulary:manage", "管理部门、村、类别与分派规则"
    SETTINGS_MANAGE = "settings:manage", "管理系统设置"
    CALENDAR_IMPORT = "calendar:import", "录入节假日调休安排"
    AUDIT_READ = "audit:read", "查看审计日志"
    SUPERVISION_VIEW = "supervision:view", "查看督办总览、隐患台账与部门考核"
    LISTINGS_MANAGE = "listings:manage", "挂牌督办、约谈与摘牌"
    URGING_ISSUE = "urging:issue", "发送督促函"
    URGING_INBOX = "urging:inbox", "查看本部门收到的督促函"
    BULLETINS_MANAGE = "bulletins:manage", "起草与发布通报"
    REWARDS_VIEW = "rewards:view", "查看举报奖励与奖励台账"
    REWARDS_MANAGE = "rewards:manage", "提出举报奖励，登记领取与发放"
    REWARDS_APPROVE = "rewards:approve", "审批举报奖励"
    # Inspections and the register of places (issue 22).
    REGISTER_VIEW = "register:view", "查看场所底数"
    REGISTER_MANAGE = "register:manage", "编辑、合并与导入场所底数"
    ROUNDS_MANAGE = "rounds:manage", "部署排查与双随机抽查"
    TASKS_WORK = "tasks:work", "办理本人的检查任务"
    FIELD_FILE = "field:file", "现场上报隐患"
    CHECKS_PUBLISH = "checks:publish", "审核公开抽查结果"
    SELFCHECK_MANAGE = "selfcheck:manage", "发放与撤销单位自查码"
    HISTORY_IMPORT = "history:import", "导入历史隐患台账"
    WARNINGS_MANAGE = "warnings:manage", "发布风险预警提示"
    STAFF = "staff", "登录后台"


_MODERATION = frozenset({
    Permission.QUEUE_VIEW,
    Permission.TIPS_MODERATE,
    Permission.TIPS_ENTER,
    Permission.TIPS_ORIGINAL_READ,
    Permission.IDENTITY_READ,
    Permission.CASES_OPEN,
    Permission.CASES_ROUTE,
    Permission.CASES_READ,
    Permission.CASES_READ_ALL,
    Permission.CASES_CLOSE,
    Permission.CASES_FOLLOW_UP,
    Permission.REWARDS_VIEW,
    Permission.REWARDS_MANAGE,
    Permission.REGISTER_VIEW,
    Permission.REGISTER_MANAGE,
    Permission.CHECKS_PUBLISH,
    Permission.SELFCHECK_MANAGE,
})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # The admin keeps the system, not the casework: reading who reported is the
    # moderators' job alone, so every reveal has a moderator's name on it.
    Role.ADMIN: frozenset({
        Permission.STAFF,
        Permission.USERS_MANAGE,
        Permission.VOCABULARY_MANAGE,
        Permission.SETTINGS_MANAGE,
        Permission.CALENDAR_IMPORT,
        Permission.AUDIT_READ,
        Permission.CASES_READ,
        Permission.CASES_READ_ALL,
        # Reads the supervision desk; acting on it is the supervisors' job.
        Permission.SUPERVISION_VIEW,
    }),
    Role.MODERATOR: _MODERATION | {Permission.STAFF},
    Role.SUPERVISOR: frozenset({
        Permission.STAFF,
        Permission.CASES_READ,
        Permission.CASES_READ_ALL,
        Permission.CASES_SUPERVISE,
        Permission.CASES_CLOSE,
        Permission.CASES_FOLLOW_UP,
        Permission.AUDIT_READ,
        Permission.SUPERVISION_VIEW,
        Permission.LISTINGS_MANAGE,
        Permission.URGING_ISSUE,
        Permission.BULLETINS_MANAGE,
        Permission.REWARDS_VIEW,
        Permission.REWARDS_APPROVE,
        Permission.REGISTER_VIEW,
        Permission.ROUNDS_MANAGE,
        Permission.HISTORY_IMPORT,
        Permission.WARNINGS_MANAGE,
    }),
    Role.OFFICER: frozenset({
        Permission.STAFF,
        Permission.CASES_READ,
        Permission.CASES_WORK,
        Permission.CASES_FOLLOW_UP,
        Permission.URGING_INBOX,
        Permission.TASKS_WORK,
        Permission.FIELD_FILE,
    }),
    # A grid inspector (网格员) inspects the places of their tasks and files hazards from the
    # field; with no department there is no desk, only the tasks and the filings.
    Role.GRID_INSPECTOR: frozenset({
        Permission.STAFF,
        Permission.TASKS_WORK,
        Permission.FIELD_FILE,
    }),
}


def permissions_of(role: Role | None) -> frozenset[Permission]:
    return ROLE_PERMISSIONS.get(role, frozenset()) if role else frozenset()


def has_permission(role: Role | None, permission: Permission) -> bool:
    return permission in permissions_of(role)


def townships_of(user: User) -> frozenset[int] | None:
    """The townships whose tips, cases and figures the account may see; None: every one.

    County staff (no ``township_id``) see the whole county. A township's staff see their
    township. An officer sees what their department holds in the townships it serves, and
    nothing of any other, whatever the account's own township says.
    """
    if user.role is Role.OFFICER:
        department = user.department
        return frozenset(t.id for t in department.serves) if department else frozenset()
    if user.township_id is None:
        return None
    return frozenset({user.township_id})


def is_county_staff(user: User) -> bool:
    return user.role not in (Role.OFFICER, Role.GRID_INSPECTOR) and user.township_id is None


def tip_scope(user: User) -> ColumnElement[bool]:
    """SQL condition on ``Tip``: the tips this user may see (the queue, a tip's page)."""
    if Permission.QUEUE_VIEW not in permissions_of(user.role):
        return false()
    return of_village(Tip.village_id, townships_of(user))


def case_scope(user: User) -> ColumnElement[bool]:
    """SQL condition on ``Case``: the cases this user may see at all.

    Officers see only cases their own department holds, in the townships it serves: an
    assignment pending, accepted or completed (it worked the case to its closure). A
    department that transferred the case on, returned it, or whose part was withdrawn no
    longer reads it, so nothing the departments after it write reaches it. Anyone else who may
    read cases reads those of their township (county staff: all). Views answer 404 outside
    the scope, so a case's existence does not leak.
    """
    perms = permissions_of(user.role)
    places = of_village(Case.village_id, townships_of(user))
    if Permission.CASES_READ_ALL in perms:
        return places
    if Permission.CASES_READ in perms and user.department_id is not None:
        return and_(places, Case.id.in_(
            select(Assignment.case_id).where(Assignment.department_id == user.department_id,
                                             Assignment.state.in_(HOLDING))
        ))
    return false()


def manages(user: User, township_id: int | None) -> bool:
    """Whether an administrator may manage a row that belongs to ``township_id`` (None: the
    county's: townships, shared vocabularies, county departments, defaults and accounts).

    The one rule for every admin screen (villages, departments, routing rules, accounts, API
    keys): county admins manage the whole county; a township admin only its own township's
    rows, never the county's.
    """
    return user.township_id is None or (township_id is not None
                                        and township_id == user.township_id)


def administered_townships(user: User) -> frozenset[int] | None:
    """The townships whose rows the administrator's lists show; None: every township."""
    return None if user.township_id is None else frozenset({user.township_id})
