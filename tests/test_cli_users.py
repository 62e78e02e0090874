from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.access import accounts
from portal.domain.enums import Role
from portal.domain.models import AuditLog, User

PASSWORD = "correct horse battery"


def test_create_with_a_prompted_password(runner, db_session: Session) -> None:
    result = runner.invoke(args=["users", "create", "Mod1", "--role", "moderator"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    user = accounts.find_user(db_session, "mod1")
    assert user is not None and user.role is Role.MODERATOR
    assert user.password_hash.startswith("scrypt:") and PASSWORD not in user.password_hash
    assert accounts.password_matches(user, PASSWORD)
    assert db_session.scalar(select(AuditLog).where(AuditLog.action == "user.create"))


def test_a_generated_password_is_printed_once_and_works(runner, db_session: Session) -> None:
    result = runner.invoke(args=["users", "create", "fire1", "--role", "officer",
                                 "--department", "FIRE", "--generate"])
    assert result.exit_code == 0, result.output
    password = result.output.strip().splitlines()[-1].split("：")[-1]
    user = accounts.find_user(db_session, "fire1")
    assert user.department.code == "FIRE" and accounts.password_matches(user, password)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["off2", "--role", "officer"], "必须指定所属部门"),
        (["off3", "--role", "officer", "--department", "NOPE"], "不存在"),
        (["sup9", "--role", "supervisor", "--department", "FIRE"], "只有部门经办人"),
        (["xxx1", "--role", "king"], "角色须为"),
        (["坏名字", "--role", "moderator"], "用户名须为"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(runner, args, message) -> None:
    result = runner.invoke(args=["users", "create", *args, "--generate"])
    assert result.exit_code != 0
    assert message in result.output


def test_a_short_password_is_refused(runner, db_session: Session) -> None:
    result = runner.invoke(args=["users", "create", "mod2", "--role", "moderator"],
                           input="short\nshort\n")
    assert result.exit_code != 0 and "至少需要 12 个字符" in result.output
    assert accounts.find_user(db_session, "mod2") is None


def test_set_password_deactivate_and_list(runner, db_session: Session) -> None:
    runner.invoke(args=["users", "create", "sup1", "--role", "supervisor", "--generate"])
    result = runner.invoke(args=["users", "set-password", "sup1"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert accounts.password_matches(accounts.find_user(db_session, "sup1"), PASSWORD)
    assert runner.invoke(args=["users", "deactivate", "sup1"]).exit_code == 0
    listing = runner.invoke(args=["users", "list"]).output
    assert "sup1\tsupervisor\t-\t停用" in listing
    assert runner.invoke(args=["users", "deactivate", "nobody"]).exit_code != 0


def test_ensure_admin_creates_one_admin_and_prints_it_only_then(runner, db_session) -> None:
    first = runner.invoke(args=["users", "ensure-admin"])
    assert first.exit_code == 0 and "用户名：admin" in first.output
    second = runner.invoke(args=["users", "ensure-admin"])
    assert second.exit_code == 0 and second.output == ""
    admins = db_session.scalars(select(User).where(User.role == Role.ADMIN)).all()
    assert len(admins) == 1


def test_set_password_and_deactivate_from_the_command_line_end_the_sessions(
        runner, db_session: Session) -> None:
    from portal.domain.access import auth
    from portal.domain.models import StaffSession

    runner.invoke(args=["users", "create", "sup2", "--role", "supervisor", "--generate"])
    user = accounts.find_user(db_session, "sup2")

    def sessions() -> int:
        db_session.expire_all()
        return len(db_session.scalars(
            select(StaffSession).where(StaffSession.user_id == user.id)).all())

    auth.start_session(db_session, user)
    db_session.commit()
    assert sessions() == 1
    runner.invoke(args=["users", "set-password", "sup2"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert sessions() == 0
    auth.start_session(db_session, user)
    db_session.commit()
    assert runner.invoke(args=["users", "deactivate", "sup2"]).exit_code == 0
    assert sessions() == 0
