"""The coverage floor only rises: pyproject's fail_under is never below the floor recorded in docs/testing-tools.md.

Raising the floor means raising both; lowering pyproject's alone fails here, and lowering the record is a visible
change to the documented history.
"""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _recorded_floor() -> float:
    text = (ROOT / "docs" / "testing-tools.md").read_text(encoding="utf-8")
    found = re.findall(r"^coverage floor: (\d+(?:\.\d+)?)%", text, flags=re.MULTILINE)
    assert found, "docs/testing-tools.md records no line 'coverage floor: N%'"
    return max(float(value) for value in found)


def test_the_configured_floor_is_not_below_the_recorded_one():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    fail_under = config["tool"]["coverage"]["report"]["fail_under"]
    assert fail_under >= _recorded_floor() > 0


def test_coverage_runs_over_every_project_package_with_branches_and_subprocesses():
    run = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["coverage"]["run"]
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    assert sorted(run["source"]) == sorted(packages["root_packages"])
    assert run["branch"] is True and run["parallel"] is True
    assert "subprocess" in run["patch"]
