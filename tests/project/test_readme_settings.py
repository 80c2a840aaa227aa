"""README's configuration table and project/settings.py cannot drift apart: every variable the settings read is
in the table, every variable in the table is read, and every default the table gives is the one the settings pass
to their env_* helper (research/README.md's table of the research settings too).

The defaults are taken from settings.py's own source (each `env_*("NAME", default)` call, its default expression
evaluated in the settings module of a fresh Python with nothing set but SECRET_KEY), so a default changed in code
and not in the README, or the other way round, fails here. Defaults that depend on DEBUG are those of production
(DEBUG off), as the README states them ("`true` unless `DEBUG`").
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "project" / "settings.py"

# In a fresh Python: import the settings with a clean environment, evaluate each env_* call's default expression in
# the module's namespace, print {name: the default as the README writes it}.
_EVALUATE = r"""
import ast, json, sys
from pathlib import Path
import project.settings as s

var_dir = str(s.VAR_DIR)
base = str(s.BASE_DIR) + "/"

def documented(value):
    if value is None:
        return "required"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        value = ",".join(value)
    text = str(value)
    return text.replace(var_dir, "var").replace(base, "")

out, secrets = {}, []
for node in ast.walk(ast.parse(Path(s.__file__).read_text())):
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("env_")):
        continue
    name = node.args[0].value
    default = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "default"), None)
    out[name] = documented(None if default is None else eval(ast.unparse(default), vars(s)))
    if node.func.id == "env_secret":
        secrets.append(name)
print(json.dumps({"defaults": out, "secrets": secrets}))
"""


@pytest.fixture(scope="module")
def code(tmp_path_factory) -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SECRET_KEY": "readme-check-" + "x" * 50,
        # Where the settings create var/ folders; printed back as "var", the README's name for it.
        "REGISTRY_VAR_DIR": str(tmp_path_factory.mktemp("var")),
    }
    result = subprocess.run([sys.executable, "-c", _EVALUATE], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    # REGISTRY_VAR_DIR's own default is evaluated from BASE_DIR, not from the value given above.
    assert found["defaults"]["REGISTRY_VAR_DIR"] == "var"
    return found


def _table(readme: Path, heading: str) -> dict[str, str]:
    """{variable: its documented default} from the `| variable | default | meaning |` table under `heading`."""
    text = readme.read_text()
    section = text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        names_cell, default_cell = (cell.strip() for cell in line.strip("|").split(" | ")[:2])
        names = re.findall(r"`([A-Z][A-Z0-9_]*)`", names_cell)
        parts = [part.strip() for part in default_cell.split(", ")]
        # `EMAIL_HOST`, `EMAIL_PORT`, ... | `localhost`, `25`, ...: one default each; else one default for all.
        defaults = parts if len(parts) == len(names) > 1 else [default_cell] * len(names)
        for name, default in zip(names, defaults, strict=True):
            assert name not in rows, f"{name} is in the table twice"
            rows[name] = _value(default)
    assert rows, f"no configuration table under {heading!r} in {readme.name}"
    return rows


def _value(cell: str) -> str:
    """`300/minute` -> 300/minute; `true` unless `DEBUG` -> true; empty -> ""; required unless ... -> required."""
    if cell == "empty":
        return ""
    if cell.startswith("required"):
        return "required"
    found = re.match(r"`([^`]*)`", cell)
    assert found, f"a default the test cannot read: {cell!r} (write it as `value`, empty or required)"
    return found.group(1)


@pytest.fixture(scope="module")
def readme() -> dict[str, str]:
    return _table(ROOT / "README.md", "## Configuration")


def test_every_variable_the_settings_read_is_documented_and_nothing_else(code, readme):
    read = set(code["defaults"])
    assert {"SECRET_KEY", "DATABASE_URL", "REGISTRY_TRUSTED_PROXIES"} <= read  # the parser found them
    assert sorted(read - set(readme)) == [], "read by project/settings.py, missing from README's table"
    assert sorted(set(readme) - read) == [], "in README's table, never read by project/settings.py"


def test_every_secret_may_be_given_as_a_file_and_the_readme_says_so(code):
    section = (ROOT / "README.md").read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    assert set(code["secrets"]) == {
        "SECRET_KEY",
        "EMAIL_HOST_PASSWORD",
        "TWILIO_AUTH_TOKEN",
        "RESEARCH_CELL_KEY_SECRET",
    }
    for name in code["secrets"]:
        assert f"`{name}_FILE`" in section, name


def test_every_documented_default_is_the_one_the_settings_use(code, readme):
    wrong = {
        name: {"README": documented, "settings.py": code["defaults"][name]}
        for name, documented in readme.items()
        if name in code["defaults"] and code["defaults"][name] != documented
    }
    assert wrong == {}


def test_the_research_readme_agrees_too(code):
    research = _table(ROOT / "research" / "README.md", "## Limits and settings")
    assert set(research) <= set(code["defaults"])
    assert {name: code["defaults"][name] for name in research} == research


def test_a_changed_default_would_be_caught(readme):
    # The parser reads what the table says, row by row, including a row of several variables.
    assert readme["SESSION_COOKIE_AGE"] == "1800"
    assert (readme["EMAIL_HOST"], readme["EMAIL_PORT"], readme["EMAIL_HOST_USER"]) == ("localhost", "25", "")
    assert readme["SECURE_SSL_REDIRECT"] == readme["CSRF_COOKIE_SECURE"] == "true"
    assert readme["SECRET_KEY"] == "required"
