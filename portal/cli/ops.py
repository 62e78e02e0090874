"""Operations: backup and restore, upload garbage collection, retention (cron-friendly), and
recounting the ledger's running counts."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import subprocess
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.engine import make_url

from portal.config import INSTANCE_DIR
from portal.db import database, get_session, without_statement_timeout
from portal.domain.administration import retention
from portal.domain.disclosure import search
from portal.domain.reporting import rewards
from portal.domain.supervision import tallies
from portal.storage import DirectoryStorage, S3Storage, copy_into
from portal.web.files import storage

uploads_cli = AppGroup("uploads", help="Uploaded files.")
ledger_cli = AppGroup("ledger", help="The hazard ledger's running counts.")
retention_cli = AppGroup("retention", help="Data retention.")
search_cli = AppGroup("search", help="The public disclosures' search index.")

PG_RECIPE = """PostgreSQL backup and restore (run on a machine with the PostgreSQL client):
  pg_dump --format=custom --no-owner --file=portal.dump "$PORTAL_DATABASE_URL"
  pg_restore --clean --if-exists --no-owner --dbname="$PORTAL_DATABASE_URL" portal.dump
Back up PORTAL_UPLOAD_DIR (or the bucket of PORTAL_UPLOAD_STORE: docs/storage.md) and the
keys (PORTAL_FIELD_KEYS, PORTAL_RECEIPT_KEY) with it: without the keys, reporter identities
and receipts are lost."""


def _sqlite_path() -> Path | None:
    url = make_url(current_app.config["DATABASE_URL"])
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database)


@click.command("backup")
@with_appcontext
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the backup (default: instance/backups/…).")
def backup(output: Path | None) -> None:
    """Back up the database: SQLite online backup, or pg_dump for PostgreSQL."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    source = _sqlite_path()
    if source is None:
        if shutil.which("pg_dump") is None:
            raise click.ClickException("pg_dump not found.\n" + PG_RECIPE)
        output = output or INSTANCE_DIR / "backups" / f"portal-{stamp}.dump"
        output.parent.mkdir(parents=True, exist_ok=True)
        url = current_app.config["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        # A fixed argument list, no shell; the URL is the operator's own setting.
        subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={output}", url],  # noqa: S603,S607  # nosec B603 B607
                       check=True)
        click.echo(f"已备份到 {output}")
        return
    output = output or INSTANCE_DIR / "backups" / f"portal-{stamp}.db"
    output.parent.mkdir(parents=True, exist_ok=True)
    # The online backup API copies a consistent snapshot while the app keeps writing.
    with sqlite3.connect(source) as src, sqlite3.connect(output) as dst:
        src.backup(dst)
    check = sqlite3.connect(output)
    try:
        if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise click.ClickException(f"备份文件 {output} 校验失败")
    finally:
        check.close()
    files = "上传文件所在的存储桶" if isinstance(storage(), S3Storage) else "上传目录"
    click.echo(f"已备份到 {output}（另请备份{files}和密钥，见 docs/storage.md）")


@click.command("restore")
@with_appcontext
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore(backup_file: Path, yes: bool) -> None:
    """Restore a SQLite backup over the current database (stop the app first)."""
    target = _sqlite_path()
    if target is None:
        raise click.ClickException(PG_RECIPE)
    if not yes:
        click.confirm(f"用 {backup_file} 覆盖 {target}？当前数据将被替换", abort=True)
    database().engine.dispose()
    with sqlite3.connect(backup_file) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    click.echo(f"已从 {backup_file} 恢复")


@uploads_cli.command("gc")
@click.option("--grace-hours", type=int, default=None,
              help="Keep files younger than this (default PORTAL_UPLOAD_GC_GRACE_HOURS).")
def uploads_gc(grace_hours: int | None) -> None:
    """Remove uploaded files that no row names, staged photos never submitted, and the
    temporary files of interrupted writes."""
    session = get_session()
    hours = current_app.config["UPLOAD_GC_GRACE_HOURS"] if grace_hours is None else grace_hours
    report = retention.collect_uploads(session, storage(), grace_hours=hours)
    session.commit()
    click.echo(f"删除无主文件 {report.orphan_files} 个，未提交的暂存照片 {report.staged_rows} 张，"
               f"未写完的临时文件 {report.temp_files} 个")


@uploads_cli.command("copy-to-store")
@click.option("--source", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="The local upload directory (default PORTAL_UPLOAD_DIR).")
def uploads_copy_to_store(source: Path | None) -> None:
    """Copy a local upload directory into the object store of PORTAL_UPLOAD_STORE, skipping
    files it already holds unchanged, and check every file there (size and MD5/SHA-256).
    Safe to run again; exits 1 if any file could not be verified."""
    target = storage()
    if not isinstance(target, S3Storage):
        raise click.ClickException("PORTAL_UPLOAD_STORE 未设置为 s3://存储桶/前缀，无处可复制")
    directory = source or Path(current_app.config["UPLOAD_DIR"])
    report = copy_into(DirectoryStorage(directory), target)
    click.echo(f"从 {directory} 复制到 s3://{target.bucket}/{target.prefix}："
               f"新复制 {report.copied} 个，已存在且相同 {report.skipped} 个，"
               f"校验通过 {report.verified} 个，校验失败 {len(report.failed)} 个")
    if report.failed:
        for name in report.failed[:20]:
            click.echo(f"校验失败：{name}")
        raise click.ClickException("有文件未能校验通过，请检查后重新运行")


@retention_cli.command("purge")
def retention_purge() -> None:
    """Purge old spam, erase reporter identities past the retention periods, and close the
    rewards not claimed within their claim period."""
    session = get_session()
    spam = retention.purge_spam(session, storage(),
                                older_than_days=current_app.config["RETENTION_SPAM_DAYS"])
    erased = retention.erase_identities(
        session, days_after_close=current_app.config["RETENTION_IDENTITY_DAYS"])
    expired = rewards.expire(session)
    session.commit()
    click.echo(f"清除垃圾举报 {spam} 条，抹去举报人身份 {erased} 条，逾期未领取的奖励 {expired} 件")


@ledger_cli.command("recount")
@click.option("--check", is_flag=True,
              help="Only compare the running counts with a recount; exit 1 if they differ.")
def ledger_recount(check: bool) -> None:
    """Recount the case tallies behind the dashboard and the statistics from the cases."""
    connection = get_session().connection()
    if check:
        wrong = tallies.differences(connection)
        for (kind, key), (have, want) in sorted(wrong.items(), key=repr)[:20]:
            click.echo(f"{kind} {key}: 记录 {have}，实际 {want}")
        if wrong:
            raise click.ClickException(f"统计计数与台账不一致：{len(wrong)} 项，"
                                       "请运行 flask --app wsgi ledger recount 重新计数")
        click.echo("统计计数与台账一致")
        return
    without_statement_timeout(get_session())
    rows = tallies.rebuild(connection)
    get_session().commit()
    click.echo(f"已重新计数，共 {rows} 行")


@search_cli.command("rebuild")
@click.option("--check", is_flag=True,
              help="Only compare the index with the disclosed cases; exit 1 if they differ.")
def search_rebuild(check: bool) -> None:
    """Rebuild the search index of the public disclosures from the disclosed cases."""
    session = get_session()
    if check:
        wrong = search.differences(session)
        for difference in wrong[:20]:
            click.echo(f"工单 {difference.case_id}：{difference.reason}")
        if wrong:
            raise click.ClickException(f"公示检索索引与公示内容不一致：{len(wrong)} 件，"
                                       "请运行 flask --app wsgi search rebuild 重建")
        click.echo("公示检索索引与公示内容一致")
        return
    without_statement_timeout(session)
    cases = search.rebuild(session)
    session.commit()
    click.echo(f"已重建公示检索索引，共 {cases} 件公示")


def register(app: Flask) -> None:
    for command in (backup, restore, uploads_cli, retention_cli, ledger_cli, search_cli):
        app.cli.add_command(command)
