"""Staff accounts: creation, passwords, deactivation. Shared by the CLI and the admin screens."""

from __future__ import annotations

import re
import secrets
from functools import cache
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from portal.domain.access import audit
from portal.domain.access.permissions import administered_townships, manages
from portal.domain.administration import townships
from portal.domain.clock import utcnow
from portal.domain.enums import DepartmentKind, Role
from portal.domain.models import Department, StaffSession, Township, User
from portal.domain.reporting import identity

MIN_PASSWORD_LENGTH = 12
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,63}$")
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parents[2] / "data" / "common_passwords.txt"
_DECORATION_RE = re.compile(r"[\d\W_]+$")


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message is for people."""


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符")
    if len(set(password)) < 4:
        raise AccountError("密码过于简单，请使用更多不同的字符")
    if is_common_password(password):
        raise AccountError("这是常见密码，很容易被猜中，请换一个")


@cache
def _common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def is_common_password(password: str) -> bool:
    """A listed password, or one padded with digits and symbols ("Password2024!")."""
    lowered = password.strip().lower()
    common = _common_passwords()
    return lowered in common or _DECORATION_RE.sub("", lowered) in common


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def password_matches(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def create_user(
    session: Session,
    username: str,
    role: Role,
    password: str,
    *,
    department_code: str | None = None,
    township_code: str | None = None,
    display_name: str = "",
    actor: User | None = None,
) -> User:
    """``township_code`` None: the county's own staff. An officer works in their
    department's township (None for a county department), whatever is given."""
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise AccountError("用户名须为 3–64 位小写字母、数字或 _ . -，且以字母或数字开头")
    if find_user(session, username) is not None:
        raise AccountError(f"用户名 {username} 已存在")
    department, township = _placement(session, role, department_code, township_code)
    _check_reach(actor, township)
    validate_password(password)
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        department=department,
        township=township,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        "user.create",
        "user",
        user.id,
        actor=actor,
        after={"username": username, "role": role.value, "department": department_code,
               "township": township.code if township else None},
    )
    return user


def set_password(session: Session, user: User, password: str, *, actor: User | None) -> None:
    validate_password(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.failed_logins = 0
    user.locked_until = None
    _drop_sessions(session, user)
    session.flush()
    audit.record(session, "user.set_password", "user", user.id, actor=actor)


def deactivate(session: Session, user: User, *, actor: User | None) -> None:
    if not user.active:
        return
    if user.role is Role.ADMIN and active_admin_count(session) <= 1:
        raise AccountError("这是最后一个启用的管理员账户，不能停用")
    user.active = False
    _drop_sessions(session, user)
    session.flush()
    audit.record(
        session, "user.deactivate", "user", user.id, actor=actor,
        before={"active": True}, after={"active": False},
    )


def active_admin_count(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active)
    ) or 0


def _township(session: Session, township_code: str | None) -> Township | None:
    if not township_code:
        return None
    township = session.scalar(select(Township).where(Township.code == township_code))
    if township is None or not township.active:
        raise AccountError(f"乡镇代码 {township_code} 不存在或已停用")
    return township


def _check_reach(actor: User | None, township: Township | None) -> None:
    """A township admin keeps its own township's accounts only (the CLI has no actor)."""
    if actor is not None and not manages(actor, township.id if township else None):
        raise AccountError("只能管理本乡镇的账户（部门经办人须属于本乡镇的部门）")


def listed(session: Session, admin: User) -> list[User]:
    """The accounts the admin's user list shows: a township admin, its township's."""
    query = select(User)
    places = administered_townships(admin)
    if places is not None:
        query = query.where(User.township_id.in_(sorted(places)))
    return list(session.scalars(query.order_by(User.active.desc(), User.username)))


def shown_user(session: Session, admin: User, user_id: int) -> User | None:
    """One account if the admin may manage it, else None (the screen answers 404)."""
    user = session.get(User, user_id)
    return user if user is not None and manages(admin, user.township_id) else None


def _placement(session: Session, role: Role, department_code: str | None,
               township_code: str | None) -> tuple[Department | None, Township | None]:
    """Where an account works: its department (officers; a grid inspector's village
    committee, if any) and its township. An officer works in its department's township; a
    grid inspector is bound to a township, and a village committee it serves must serve it."""
    if role is Role.GRID_INSPECTOR:
        return _grid_placement(session, department_code, township_code)
    department = _department(session, role, department_code)
    township = _township(session, township_code) if department is None else department.township
    return department, township


def _active_department(session: Session, department_code: str) -> Department:
    department = session.scalar(select(Department).where(Department.code == department_code))
    if department is None or not department.active:
        raise AccountError(f"部门代码 {department_code} 不存在或已停用")
    return department


def _grid_placement(session: Session, department_code: str | None,
                    township_code: str | None) -> tuple[Department | None, Township]:
    township = _township(session, township_code)
    if township is None:
        raise AccountError("网格员必须指定所属乡镇")
    if not department_code:
        return None, township  # no desk: only their tasks and their filings
    department = _active_department(session, department_code)
    if department.kind is not DepartmentKind.VILLAGE_COMMITTEE:
        raise AccountError("网格员只能绑定村委会（或不绑定部门）")
    if not townships.serves(department, township.id):
        raise AccountError(f"{department.name}不属于{township.name}，请选择本乡镇的村委会")
    return department, township


def _department(session: Session, role: Role, department_code: str | None) -> Department | None:
    if role is Role.OFFICER:
        if not department_code:
            raise AccountError("部门经办人必须指定所属部门")
        return _active_department(session, department_code)
    if department_code:
        raise AccountError("只有部门经办人和网格员（村委会）可以绑定部门")
    return None


def update_user(
    session: Session,
    user: User,
    *,
    role: Role,
    department_code: str | None,
    display_name: str,
    totp_required: bool,
    actor: User,
    township_code: str | None = None,
) -> None:
    """Change an account's role, department, township, name or second-factor requirement.
    ``township_code`` None: the county's; an officer works in its department's township."""
    department, township = _placement(session, role, department_code, township_code)
    _check_reach(actor, user.township)
    _check_reach(actor, township)
    if (user.role is Role.ADMIN and role is not Role.ADMIN and user.active
            and active_admin_count(session) <= 1):
        raise AccountError("这是最后一个启用的管理员账户，不能改为其他角色")
    before = _snapshot(user)
    user.role = role
    user.department = department
    user.township = township
    user.display_name = display_name.strip() or user.username
    user.totp_required = totp_required
    session.flush()
    after = _snapshot(user)
    if any(before[k] != after[k] for k in ("role", "department", "township")):
        _drop_sessions(session, user)  # what the account may see changed: sign in afresh
    if before != after:
        audit.record(session, "user.update", "user", user.id, actor=actor,
                     before=before, after=after)


def set_sms_reminders(session: Session, user: User, *, mobile: str, notify_sms: bool,
                      actor: User) -> None:
    """A staff member's own choice of reminders by SMS (issue 21): the mobile they are sent
    to, and whether they want them. A number that is not a mainland mobile is refused; SMS
    needs one. Audited without the number (the log is read widely)."""
    if actor.id != user.id:
        raise AccountError("只能设置本人的短信提醒")
    number = mobile.strip()
    if number:
        normalized = identity.normalize_phone(number)
        if normalized is None or not identity.is_mobile(normalized):
            raise AccountError("请填写 11 位手机号码（短信提醒只能发到手机）")
        number = normalized
    if notify_sms and not number:
        raise AccountError("选择短信提醒时，请填写手机号码")
    before = {"mobile_set": bool(user.mobile), "notify_sms": user.notify_sms}
    user.mobile, user.notify_sms = number, notify_sms
    session.flush()
    after = {"mobile_set": bool(user.mobile), "notify_sms": user.notify_sms}
    if before != after or number:
        audit.record(session, "user.sms_reminders", "user", user.id, actor=actor,
                     before=before, after=after)


def _drop_sessions(session: Session, user: User) -> int:
    result = session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    user.session_id = None
    return int(getattr(result, "rowcount", 0) or 0)


def end_sessions(session: Session, user: User, *, actor: User | None, ip: str = "") -> int:
    """Sign an account out everywhere ("sign out everywhere"): every signed-in session of it
    ends on the server, whoever asks (the account itself or an admin). Audited."""
    ended = _drop_sessions(session, user)
    session.flush()
    audit.record(session, "user.end_sessions", "user", user.id, actor=actor, ip=ip,
                 after={"sessions_ended": ended})
    return ended


def reactivate(session: Session, user: User, *, actor: User) -> None:
    if user.active:
        return
    user.active = True
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    audit.record(session, "user.reactivate", "user", user.id, actor=actor,
                 before={"active": False}, after={"active": True})


def _snapshot(user: User) -> dict[str, object]:
    return {
        "role": user.role.value,
        "department": user.department.code if user.department else None,
        "township": user.township.code if user.township else None,
        "display_name": user.display_name,
        "totp_required": user.totp_required,
    }
