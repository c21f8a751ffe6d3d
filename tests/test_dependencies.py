"""Floors in pyproject.toml exclude known-vulnerable releases; what is installed meets them."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _requirements() -> dict[str, dict[str, Requirement]]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    groups = {"runtime": project["dependencies"], **project["optional-dependencies"]}
    return {group: {canonicalize_name(r.name): r for r in map(Requirement, specs)}
            for group, specs in groups.items()}


REQUIREMENTS = _requirements()
ALL = {name: r for group in REQUIREMENTS.values() for name, r in group.items()}

# name -> (the last vulnerable release, the advisory), from the advisories' own pages
KNOWN_VULNERABLE = {
    "jinja2": ("3.1.5", "CVE-2025-27516: sandbox breakout through the |attr filter"),
    "tqdm": ("4.66.2", "CVE-2024-34062: eval of CLI arguments"),
    "pyarrow": ("23.0.0", "CVE-2026-25087: use-after-free in the IPC file reader"),
    "h11": ("0.15.0", "CVE-2025-43859: lenient chunked-encoding parsing (request smuggling)"),
    "pytest": ("9.0.2", "CVE-2025-71176: predictable /tmp/pytest-of-{user} directories"),
    "jupyter-server": ("2.19.0", "CVE-2026-44727: stored XSS in the nbconvert handlers"),
    "tornado": ("6.5.7", "GHSA-mpf4-983q-p7j4: urlencoded body parsing without a field limit"),
    "pydantic": ("2.3.0", "CVE-2024-3772: regular expression denial of service"),
    "httpx": ("0.22.0", "CVE-2021-41945: improper input validation of URLs"),
}


@pytest.mark.parametrize(("name", "release", "advisory"),
                         [(n, *KNOWN_VULNERABLE[n]) for n in KNOWN_VULNERABLE])
def test_the_floor_excludes_the_last_vulnerable_release(name: str, release: str,
                                                        advisory: str) -> None:
    """pyproject.toml's floor for each dependency with an advisory is above its last bad release."""
    assert name in ALL, f"{name} ({advisory}) has no floor in pyproject.toml"
    assert not ALL[name].specifier.contains(release, prereleases=True), (
        f"{ALL[name]} admits {name} {release} ({advisory}): raise the floor"
    )


@pytest.mark.parametrize(
    "requirement",
    [pytest.param(r, id=f"{group}:{r.name}")
     for group in ("runtime", "test") for r in REQUIREMENTS[group].values()],
)
def test_the_installed_version_meets_the_declared_floor(requirement: Requirement) -> None:
    """Every runtime and test dependency is installed at a version pyproject.toml allows."""
    try:
        installed = version(requirement.name)
    except PackageNotFoundError:
        pytest.fail(f"{requirement.name} is not installed: pip install -e '.[test]'")
    assert requirement.specifier.contains(installed, prereleases=True), (
        f"{requirement.name} {installed} is installed, below the floor {requirement.specifier} "
        "(a known-vulnerable release may be in use): pip install -e '.[test]' --upgrade"
    )
