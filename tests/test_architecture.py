"""The layers of docs/architecture.md hold: the domain imports without any web framework, and
the import contracts that `make test` runs (lint-imports) fail when a layer reaches upwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from tests.conftest import repo_path

BLOCK_FLASK = textwrap.dedent("""
    import importlib, pkgutil, sys

    BLOCKED = ("flask", "flask_login", "flask_wtf", "flask_limiter", "wtforms")

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is not importable here")
            return None

    sys.meta_path.insert(0, Block())
    import portal.domain
    names = [m.name for m in pkgutil.walk_packages(portal.domain.__path__, "portal.domain.")]
    for name in names:
        importlib.import_module(name)
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not loaded, loaded
    print(len(names))
""")


def test_every_domain_module_imports_where_flask_cannot_be_imported() -> None:
    result = subprocess.run([sys.executable, "-c", BLOCK_FLASK], cwd=repo_path("."),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 40  # every module of every domain package


def test_the_blocker_itself_would_catch_a_flask_import() -> None:
    script = BLOCK_FLASK.replace("import portal.domain\n", "import portal.domain\nimport flask\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=repo_path("."),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0 and "flask is not importable here" in result.stderr


def _contracts_run(tree: Path) -> subprocess.CompletedProcess[str]:
    linter = Path(sys.executable).with_name("lint-imports")
    if not linter.exists():
        pytest.skip("import-linter is not installed (it comes with the dev extras)")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(linter), "--no-cache"], cwd=tree, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("portal/domain/leak.py", "import flask", "needs no web framework"),
    ("portal/domain/leak.py", "import admin.desk", "needs no web framework"),
    ("admin/leak.py", "import portal.public.report", "does not reach into the public site"),
])
def test_the_import_contracts_fail_when_a_layer_reaches_up(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    """The contracts of pyproject.toml, run on a copy of the code with one bad import added."""
    for package in ("portal", "admin"):
        shutil.copytree(repo_path(package), tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "data"))
    config = tomllib.loads(repo_path("pyproject.toml").read_text())["tool"]["importlinter"]
    assert config["contracts"], "no import contracts configured"
    shutil.copy(repo_path("pyproject.toml"), tmp_path / "pyproject.toml")
    assert _contracts_run(tmp_path).returncode == 0, "the contracts fail on the code as it is"
    (tmp_path / module).write_text(f"{line}\n")
    result = _contracts_run(tmp_path)
    assert result.returncode != 0
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    assert any(contract in row for row in broken), result.stdout


def test_a_web_worker_loads_no_migrations_spreadsheets_or_object_store_client() -> None:
    """What only a migration, a spreadsheet or an S3 bucket needs is loaded when one is used:
    alembic, openpyxl and boto3 together add some 28 MB to every worker (issue 19's memory
    target), and a worker on a directory store, serving pages and reports, uses none."""
    script = ("import sys, wsgi\n"
              "client = wsgi.app.test_client()\n"
              "assert client.get('/livez').status_code == 200\n"
              "heavy = ('alembic', 'mako', 'openpyxl', 'boto3', 'botocore', 's3transfer')\n"
              "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n")
    env = {**os.environ, "PORTAL_ENV": "development",
           "PORTAL_DATABASE_URL": "sqlite:///:memory:"}
    result = subprocess.run([sys.executable, "-c", script], cwd=repo_path("."), env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
