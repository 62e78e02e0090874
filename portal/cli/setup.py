"""Command-line tools: ``flask --app wsgi db|portal|users …``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from portal import identity, migrate
from portal.db import get_session
from portal.domain.access import accounts, audit
from portal.domain.administration import jurisdiction, samples
from portal.domain.administration import settings as portal_settings
from portal.domain.enums import Role
from portal.domain.models import User
from portal.web.files import storage

db_cli = AppGroup("db", help="Database schema migrations (Alembic).")
portal_cli = AppGroup("portal", help="Jurisdiction data.")
users_cli = AppGroup("users", help="Staff accounts.")
audit_cli = AppGroup("audit", help="The hash-chained audit log.")


def _alembic():
    return migrate.alembic_config(current_app.config["DATABASE_URL"])


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Upgrade the schema (default: to the latest revision)."""
    migrate.command().upgrade(_alembic(), revision)


@db_cli.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision: str) -> None:
    """Downgrade the schema (default: one revision; 'base' removes everything)."""
    migrate.command().downgrade(_alembic(), revision)


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--autogenerate/--empty", default=True)
def db_revision(message: str, autogenerate: bool) -> None:
    """Write a new revision; review it before committing."""
    migrate.command().revision(_alembic(), message=message, autogenerate=autogenerate)


@db_cli.command("current")
def db_current() -> None:
    migrate.command().current(_alembic(), verbose=True)


@db_cli.command("check")
def db_check() -> None:
    """Fail if the models differ from the migrations."""
    migrate.command().check(_alembic())


@portal_cli.command("load-jurisdiction")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--if-empty", is_flag=True,
              help="Do nothing if a jurisdiction has already been loaded (used by `make run`).")
def load_jurisdiction(path: Path, if_empty: bool) -> None:
    """Load or update villages, departments, vocabularies and routing rules from a TOML file."""
    session = get_session()
    if if_empty and portal_settings.get(session, portal_settings.JURISDICTION_KEY):
        return
    try:
        report = jurisdiction.load_file(session, path)
    except jurisdiction.JurisdictionError as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"已载入 {path}：{report.summary() or '无变化'}")


@portal_cli.command("load-samples")
@click.option("--if-new", is_flag=True,
              help="Only on a new demo portal, with no tip or case yet (used by `make run`); "
                   "otherwise do nothing, quietly.")
def load_samples(if_new: bool) -> None:
    """Add the demo's sample reports and cases (示例), once; a real jurisdiction never gets
    them."""
    session = get_session()
    if if_new:
        try:
            samples.check_sample_jurisdiction(session)
        except samples.SampleError:
            return
        if not samples.is_new(session):
            return
    try:
        report = samples.seed_samples(session, cipher=identity.cipher(),
                                      receipt_key=identity.receipt_key(), storage=storage())
    except samples.SampleError as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"已载入示例数据：{report.summary()}" if report.loaded else report.summary())
    if report.receipt_code:
        click.echo(f"  可在“查询举报”页用回执码 {report.receipt_code} 查看一条示例举报的办理结果")


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise click.BadParameter(f"角色须为 {', '.join(r.value for r in Role)} 之一") from None


def _user(username: str) -> User:
    user = accounts.find_user(get_session(), username)
    if user is None:
        raise click.ClickException(f"用户 {username} 不存在")
    return user


def _password(generate: bool) -> tuple[str, bool]:
    if generate:
        return accounts.generate_password(), True
    password = click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    return password, False


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True,
              help="admin | moderator | supervisor | officer | grid_inspector")
@click.option("--department", "department_code",
              help="Department code (officers; a grid inspector's village committee).")
@click.option("--township", "township_code",
              help="Township code the account works for (absent: the county's own staff; "
                   "an officer works where its department is).")
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
def users_create(username, role, department_code, township_code, display_name,
                 generate) -> None:
    """Create a staff account (password prompted, or generated and printed once)."""
    session = get_session()
    password, generated = _password(generate)
    try:
        accounts.create_user(
            session, username, _role(role), password,
            department_code=department_code, township_code=township_code,
            display_name=display_name,
        )
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"已创建用户 {username.strip().lower()}（{_role(role).label}）")
    if generated:
        click.echo(f"初始密码（只显示这一次）：{password}")


@users_cli.command("set-password")
@click.argument("username")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
def users_set_password(username: str, generate: bool) -> None:
    session = get_session()
    user = _user(username)
    password, generated = _password(generate)
    try:
        accounts.set_password(session, user, password, actor=None)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"已为 {user.username} 设置新密码")
    if generated:
        click.echo(f"新密码（只显示这一次）：{password}")


@users_cli.command("deactivate")
@click.argument("username")
def users_deactivate(username: str) -> None:
    session = get_session()
    user = _user(username)
    try:
        accounts.deactivate(session, user, actor=None)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"已停用 {user.username}")


@users_cli.command("list")
def users_list() -> None:
    rows = get_session().scalars(select(User).order_by(User.username))
    for user in rows:
        dept = user.department.code if user.department else "-"
        place = user.township.code if user.township else "county"
        state = "启用" if user.active else "停用"
        click.echo(f"{user.username}\t{user.role.value}\t{dept}\t{state}\t{place}")


@users_cli.command("ensure-admin")
def users_ensure_admin() -> None:
    """Create a first (county) admin with a generated password if no active admin exists."""
    session = get_session()
    if accounts.active_admin_count(session):
        return
    username = "admin"
    suffix = 1
    while accounts.find_user(session, username) is not None:
        suffix += 1
        username = f"admin{suffix}"
    password = accounts.generate_password()
    accounts.create_user(session, username, Role.ADMIN, password, display_name="系统管理员")
    session.commit()
    click.echo("=" * 60)
    click.echo("已创建首个管理员账户（密码只显示这一次，请立即登录后修改）：")
    click.echo(f"  用户名：{username}")
    click.echo(f"  密码：  {password}")
    click.echo("=" * 60)


@audit_cli.command("verify")
def audit_verify() -> None:
    """Check the whole chain and the checkpoints; exit 1 naming the first row edited or
    removed."""
    broken = audit.verify(get_session(), current_app.config["AUDIT_CHECKPOINT_FILE"])
    if broken is not None:
        raise click.ClickException(f"审计日志第 {broken.row_id} 条记录校验失败：{broken.reason}")
    click.echo("审计日志哈希链完整，与检查点一致。")


@audit_cli.command("checkpoint")
def audit_checkpoint() -> None:
    """Verify the chain, then append its signed head to PORTAL_AUDIT_CHECKPOINT_FILE (cron)."""
    path = current_app.config["AUDIT_CHECKPOINT_FILE"]
    try:
        point = audit.checkpoint(get_session(), path)
    except audit.AuditError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已记录检查点：第 {point.row_id} 条 {point.hash} → {path}")


GROUPS = (db_cli, portal_cli, users_cli, audit_cli)
