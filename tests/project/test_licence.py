"""The licence: `pyproject.toml` declares it as an SPDX expression with its text as a licence file (PEP 639, the
form setuptools requires from February 2027), and the built metadata carries both."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_declares_an_spdx_expression_and_ships_the_text():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "AGPL-3.0-or-later"  # a string: the table form ({text = ...}) is deprecated
    assert not any(c.startswith("License ::") for c in project.get("classifiers", []))  # PEP 639 forbids both
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.splitlines()[0].strip() == "GNU AFFERO GENERAL PUBLIC LICENSE"
    assert "Version 3, 19 November 2007" in text and "13. Remote Network Interaction; Use with the GNU General" in text
    assert text.rstrip().endswith("<https://www.gnu.org/licenses/>.")


def test_the_installed_metadata_carries_the_expression_and_the_file():
    from importlib.metadata import metadata

    meta = metadata("regen-ortho-registry")
    assert meta["License-Expression"] == "AGPL-3.0-or-later"
    assert "LICENSE" in meta.get_all("License-File", [])
