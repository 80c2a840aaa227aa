"""Keep only the mutants inside the named functions in a cosmic-ray session (cosmic-ray mutates whole modules; the
critical part of research/summaries/statistics.py is suppress() alone).

    .venv/bin/python mutation/restrict.py mutation/statistics.sqlite suppress
    .venv/bin/python mutation/restrict.py mutation/schedule.sqlite --annotations   # whole module, no annotations

A function's body counts from its first statement after the docstring to its last line. Its signature does not:
with `from __future__ import annotations` the annotations are never evaluated, so their mutants (`Cell | None` to
`Cell - None`) are equivalent and only cost time. `--annotations` keeps the whole module but drops the mutants
on its function signatures. Run it after `cosmic-ray init` and before `cosmic-ray exec`.
"""

import ast
import sqlite3
import sys
from pathlib import Path


def _body_lines(module: Path, names: set[str]) -> set[int]:
    lines: set[int] = set()
    found = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
            found.add(node.name)
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]  # the docstring
            if body:
                lines.update(range(body[0].lineno, (node.end_lineno or body[-1].lineno) + 1))
    missing = names - found
    if missing:
        sys.exit(f"{module} defines no function {', '.join(sorted(missing))}")
    return lines


def _signature_lines(module: Path) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines.update(range(node.lineno, node.body[0].lineno))
    return lines


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    session, names = sys.argv[1], set(sys.argv[2:])
    with sqlite3.connect(session) as db:
        (module,) = {path for (path,) in db.execute("SELECT DISTINCT module_path FROM mutation_specs")}
        rows = list(db.execute("SELECT job_id, start_pos_row FROM mutation_specs"))
        if names == {"--annotations"}:
            signatures = _signature_lines(Path(module))
            outside = [(job,) for job, row in rows if row in signatures]
        else:
            keep = _body_lines(Path(module), names)
            outside = [(job,) for job, row in rows if row not in keep]
        db.executemany("DELETE FROM mutation_specs WHERE job_id = ?", outside)
        db.executemany("DELETE FROM work_results WHERE job_id = ?", outside)
        db.executemany("DELETE FROM work_items WHERE job_id = ?", outside)
    print(f"kept {len(rows) - len(outside)} mutants of {module} ({' '.join(sorted(names))}), dropped {len(outside)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
