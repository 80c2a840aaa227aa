"""The scoring package is pure Python: it imports neither Django nor the registry's apps (STYLE.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import scoring

PACKAGE = Path(scoring.__file__).resolve().parent
ROOT = PACKAGE.parent
FORBIDDEN = {"django", "rest_framework", "celery", "registry", "outcomes"}
MODULES = sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__")


def test_every_module_imports_with_django_and_the_apps_made_unimportable():
    # A None entry in sys.modules makes "import django" raise ImportError, whether or not Django is installed.
    code = (
        "import sys, importlib\n"
        f"for name in {sorted(FORBIDDEN)!r}:\n"
        "    sys.modules[name] = None\n"
        "from scoring import score\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module('scoring.' + name)\n"
        "print(score('nrs', {'nrs': 3}).scores)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "{'nrs': 3}"


def test_no_module_names_a_forbidden_package_and_only_the_standard_library_is_used():
    assert MODULES, "found the package's modules"
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top not in FORBIDDEN, f"{path.name} imports {name}"
                assert top in sys.stdlib_module_names or top == "scoring", f"{path.name} imports {name}"
