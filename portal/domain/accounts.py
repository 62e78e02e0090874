"""Staff accounts: creation, passwords, deactivation. Shared by the CLI and the admin screens."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from portal.db import utcnow
from portal.domain import audit
from portal.domain.enums import Role
from portal.domain.models import Department, User

MIN_PASSWORD_LENGTH = 12
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,63}$")


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message is for people."""


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符")
    if len(set(password)) < 4:
        raise AccountError("密码过于简单，请使用更多不同的字符")


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
    display_name: str = "",
    actor: User | None = None,
) -> User:
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise AccountError("用户名须为 3–64 位小写字母、数字或 _ . -，且以字母或数字开头")
    if find_user(session, username) is not None:
        raise AccountError(f"用户名 {username} 已存在")
    department = None
    if role is Role.OFFICER:
        if not department_code:
            raise AccountError("部门经办人必须指定所属部门（--department）")
        department = session.scalar(select(Department).where(Department.code == department_code))
        if department is None or not department.active:
            raise AccountError(f"部门代码 {department_code} 不存在或已停用")
    elif department_code:
        raise AccountError("只有部门经办人可以绑定部门")
    validate_password(password)
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        department=department,
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
        after={"username": username, "role": role.value, "department": department_code},
    )
    return user


def set_password(session: Session, user: User, password: str, *, actor: User | None) -> None:
    validate_password(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    audit.record(session, "user.set_password", "user", user.id, actor=actor)


def deactivate(session: Session, user: User, *, actor: User | None) -> None:
    if not user.active:
        return
    user.active = False
    session.flush()
    audit.record(
        session, "user.deactivate", "user", user.id, actor=actor,
        before={"active": True}, after={"active": False},
    )


def active_admin_count(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active)
    ) or 0
