"""Workspace invariants: every package is complete, separately versioned and layered."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["wx-utils", "wx-datasets", "wx-graphs", "wx-models", "wx-training", "wx-inference"]
# Dependency direction from DESIGN.md: each package may import only these wx siblings.
ALLOWED = {
    "wx-utils": set(),
    "wx-datasets": {"wx-utils"},
    "wx-graphs": {"wx-utils", "wx-datasets"},
    "wx-models": {"wx-utils", "wx-graphs"},
    "wx-training": {"wx-utils", "wx-datasets", "wx-graphs", "wx-models"},
    "wx-inference": {"wx-utils", "wx-datasets", "wx-graphs", "wx-models"},
}


def _pyproject(name: str) -> dict:
    return tomllib.loads((ROOT / "packages" / name / "pyproject.toml").read_text())


@pytest.mark.parametrize("name", PACKAGES)
def test_package_layout(name):
    folder = ROOT / "packages" / name
    module = name.replace("-", "_")
    project = _pyproject(name)["project"]
    assert project["requires-python"] == ">=3.11"
    assert project["scripts"] == {name: f"{module}.cli:main"}
    for path in ("README.md", "CHANGELOG.md", "changelog.d", "tests", f"src/{module}/py.typed"):
        assert (folder / path).exists(), f"{name} lacks {path}"


@pytest.mark.parametrize("name", PACKAGES)
def test_sibling_dependencies_follow_the_layering(name):
    deps = _pyproject(name)["project"]["dependencies"]
    siblings = {
        d.split(">")[0].split("<")[0].split("=")[0].strip() for d in deps if d.startswith("wx-")
    }
    assert siblings <= ALLOWED[name], f"{name} depends on {siblings - ALLOWED[name]}"
    for dep in deps:
        if dep.startswith("wx-"):
            assert "<" in dep and ">=" in dep, f"{name}: sibling {dep} needs a version range"


@pytest.mark.parametrize("name", PACKAGES)
def test_ruff_bans_upward_imports(name):
    banned = _pyproject(name)["tool"]["ruff"]["lint"]["flake8-tidy-imports"]["banned-api"]
    forbidden = {p.replace("-", "_") for p in PACKAGES} - {
        p.replace("-", "_") for p in ALLOWED[name] | {name}
    }
    if name == "wx-graphs":
        forbidden.discard("wx_datasets")  # optional extra, read-only coordinates
    assert forbidden <= set(banned), f"{name} does not ban {forbidden - set(banned)}"
    if name in ("wx-utils", "wx-datasets"):
        assert "torch" in banned


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv not on PATH")
@pytest.mark.parametrize("name", PACKAGES)
def test_towncrier_renders_each_package_changelog(name):
    version = _pyproject(name)["project"]["version"]
    result = subprocess.run(
        [
            "uv",
            "run",
            "--no-sync",
            "towncrier",
            "build",
            "--draft",
            "--config",
            "towncrier.toml",
            "--dir",
            f"packages/{name}",
            "--name",
            name,
            "--version",
            version,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"## {name} {version}" in result.stdout
    fragments = sorted((ROOT / "packages" / name / "changelog.d").glob("*.md"))
    assert fragments, f"{name} has no news fragments"
    first_sentence = fragments[0].read_text().strip().split("\n")[0][:40]
    assert first_sentence in result.stdout
