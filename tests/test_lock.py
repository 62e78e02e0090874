"""requirements.lock (exact versions with hashes, for production installs) stays in step with
pyproject.toml: every runtime and prod dependency is pinned, to a version its range admits,
with hashes."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import repo_path

PIN_RE = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", re.M)


def _pins() -> dict[str, str]:
    text = repo_path("requirements.lock").read_text()
    return {canonicalize_name(name): version for name, version in PIN_RE.findall(text)}


def test_every_dependency_is_pinned_within_its_range() -> None:
    project = tomllib.loads(repo_path("pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for r in project["optional-dependencies"]["prod"]]
    pins = _pins()
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is missing from requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside {requirement.specifier}: run `make lock`")


def test_every_pin_carries_hashes() -> None:
    text = repo_path("requirements.lock").read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9_.\-]+==)", text.split("\n", 6)[-1])
    for block in blocks:
        if "==" in block.split("\n", 1)[0]:
            assert "--hash=sha256:" in block, block.split("\n", 1)[0]
