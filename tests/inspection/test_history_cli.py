"""``flask history import FILE --township CODE --as USER``: a whole ledger at once, a dry
run that writes nothing, and a second import that changes nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.models import Case
from tests.inspection.test_history import LEDGER, csv_bytes, importer


def imported(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Case).where(Case.imported)) or 0


def test_a_whole_ledger_goes_in_from_the_command_line_once(runner, db_session: Session,
                                                           tmp_path: Path) -> None:
    importer(db_session)
    db_session.commit()
    path = tmp_path / "2023年重大隐患台账.csv"
    path.write_bytes(csv_bytes(LEDGER))
    args = ["history", "import", str(path), "--township", "yanggao", "--as", "history-sup"]
    dry = runner.invoke(args=[*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "预览：将新建 5 件" in dry.output and imported(db_session) == 0
    done = runner.invoke(args=args)
    assert done.exit_code == 0, done.output
    assert "已新建 5 件" in done.output and imported(db_session) == 5
    again = runner.invoke(args=args)
    assert "已新建 0 件" in again.output and imported(db_session) == 5


def test_a_ledger_with_errors_imports_nothing_and_names_the_row(runner, db_session: Session,
                                                                tmp_path: Path) -> None:
    importer(db_session)
    db_session.commit()
    path = tmp_path / "ledger.csv"
    path.write_bytes(csv_bytes([[*LEDGER[0][:8], "not a date", *LEDGER[0][9:]]]))
    result = runner.invoke(args=["history", "import", str(path), "--township", "yanggao",
                                 "--as", "history-sup"])
    assert result.exit_code == 1 and "第 2 行" in result.output
    assert imported(db_session) == 0
