"""The fixed mutation subset that CI runs (`.ci/run`, step "types and mutation subset"): each mutant below is a
realistic bug in a critical module, known to be killed by the tests named with it. For each, the script applies the
one-line change to a copy of the project, runs those tests there, and fails if any mutant survives (the tests still
pass).

    .venv/bin/python tests/mutation/subset.py          # all of them
    .venv/bin/python tests/mutation/subset.py -k m12   # only the mutants whose name contains "m12"

The checkout itself is never touched: the copies (two by default, `-j`, judged side by side) live in a temporary
folder removed at the end, even on failure or Ctrl-C. The unmutated copy must pass the named tests first (otherwise
a "killed" mutant would prove nothing). docs/mutation-testing.md explains the full runs (cosmic-ray) this subset is
taken from.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
PYTEST = ["-m", "pytest", "-x", "-q", "--no-header", "-p", "no:cacheprovider", "--nomigrations"]


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the project root
    old: str  # text that occurs exactly once in the file
    new: str
    tests: tuple[str, ...]
    rule: str  # what the killing tests hold


PINNED = "tests/outcomes/test_rules_pinned.py"
WINDOWS = "tests/outcomes/test_schedule_windows_check.py"
SUPPRESSION = "tests/research/test_suppression_rule.py"

MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "schedule-m12-closes-456",
        "outcomes/schedule.py",
        'Window("m12", 300, 365, 450)',
        'Window("m12", 300, 365, 456)',
        (f"{PINNED}::test_every_window_is_the_one_the_readme_publishes_and_the_schedule_uses_it",),
        "every window's bounds are the README's",
    ),
    Mutant(
        "schedule-m6-opens-149",
        "outcomes/schedule.py",
        'Window("m6", 150, 182, 240)',
        'Window("m6", 149, 182, 240)',
        (WINDOWS,),
        "a day belongs to the window that holds it, bounds included",
    ),
    Mutant(
        "schedule-last-day-excluded",
        "outcomes/schedule.py",
        "if w.opens <= day <= w.closes:",
        "if w.opens <= day < w.closes:",
        (WINDOWS,),
        "an answer on a window's closing day counts for it",
    ),
    Mutant(
        "suppress-at-threshold",
        "research/summaries/statistics.py",
        "if cell.subjects < min_cell:",
        "if cell.subjects <= min_cell:",
        (SUPPRESSION,),
        "a cell of exactly min_cell subjects is shown",
    ),
    Mutant(
        "suppress-complement-on-two",
        "research/summaries/statistics.py",
        "if len(withheld) == 1:",
        "if len(withheld) >= 1:",
        (SUPPRESSION,),
        "a complement is withheld only when exactly one group is",
    ),
    Mutant(
        "suppress-complement-largest",
        "research/summaries/statistics.py",
        "key=lambda c: c.subjects)",
        "key=lambda c: -c.subjects)",
        (SUPPRESSION,),
        "the complement is the smallest shown group",
    ),
    Mutant(
        "token-stored-in-clear",
        "outcomes/contact.py",
        "return hashlib.sha256(raw.encode()).hexdigest()",
        "return raw",
        (f"{PINNED}::test_a_personal_link_is_stored_only_as_its_hash",),
        "tokens are stored only as their hash",
    ),
    Mutant(
        "idempotency-key-without-first-follow-up",
        "outcomes/dispatcher.py",
        'key = f"{kind}:{patient.pk}:{first}:{fus[0].contact_round}:{number}"',
        'key = f"{kind}:{patient.pk}:{fus[0].contact_round}:{number}"',
        (f"{PINNED}::test_two_timepoints_of_one_patient_each_get_their_invitation",),
        "two timepoints of one patient each get their invitation",
    ),
    Mutant(
        "site-scope-ignores-inactive-membership",
        "registry/access.py",
        "memberships__user=user, memberships__active=True",
        "memberships__user=user",
        ("tests/registry/test_admin_site_scoping.py::test_withdrawn_membership_removes_access",),
        "an ended membership sees nothing of its site",
    ),
    Mutant(
        "site-scope-open",
        "registry/access.py",
        'return self.filter(**{f"{path}__in" if path else "pk__in": visible})',
        "return self",
        ("tests/registry/test_admin_site_scoping.py::test_it_lists_only_own_site_rows",),
        "staff see only their own sites' rows",
    ),
    Mutant(
        "deid-resolution-as-date",
        "research/deid.py",
        'days_from_index("resolution_date", "episode__")',
        'F("resolution_date")',
        ("tests/research/test_dates_relative.py",),
        "every date a research dataset releases is days from the index date",
    ),
    Mutant(
        "kanon-site-under-k-released",
        "research/kanon.py",
        "        return self.subjects < self.policy.k\n",
        "        return False\n",
        ("tests/research/test_kanon.py::test_a_site_below_k_is_withheld_from_every_row_dataset_until_it_holds_k",),
        "a site of fewer than k subjects releases no row",
    ),
    Mutant(
        "responder-exactly-two-of-three",
        "scoring/responder.py",
        "responder = pain_20 + function_20 + global_20 >= 2",
        "responder = pain_20 + function_20 + global_20 == 2",
        ("tests/scoring/test_scoring_responder.py",),
        "OMERACT-OARSI: at least two of pain, function and global (three included)",
    ),
    Mutant(
        "responder-high-19-points",
        "scoring/responder.py",
        "high_pain = _improved(*pain, Fraction(1, 2), 20)",
        "high_pain = _improved(*pain, Fraction(1, 2), 19)",
        ("tests/scoring/test_scoring_responder.py",),
        "OMERACT-OARSI: a high improvement is at least 20 points",
    ),
    Mutant(
        "koos-subscale-times-20",
        "scoring/engine.py",
        "subscales[subscale.code] = 100 - Fraction(25 * sum(answered), len(answered))",
        "subscales[subscale.code] = 100 - Fraction(20 * sum(answered), len(answered))",
        ("tests/scoring/test_scoring_koos_hoos.py",),
        "KOOS/HOOS subscales are 100 - 25 x the mean answer",
    ),
    Mutant(
        "koos-min-items-off-by-one",
        "scoring/engine.py",
        "        if len(answered) >= subscale.min_items:\n            # 100 - mean",
        "        if len(answered) > subscale.min_items:\n            # 100 - mean",
        ("tests/scoring/test_scoring_koos_hoos.py",),
        "a subscale is scored with exactly its minimum of answered items",
    ),
)

_IGNORE = shutil.ignore_patterns(".venv", ".git", "var", "node_modules", "__pycache__", ".mypy_cache", ".coverage*")


def _run(copy: Path, tests: tuple[str, ...]) -> tuple[bool, str]:
    # SQLite and an in-memory broker whatever CI exports: the subset judges the code, not the services.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "RESEARCH_DATABASE_URL")}
    env["CELERY_BROKER_URL"] = "memory://"
    answer = subprocess.run(
        [str(PYTHON), *PYTEST, *tests], cwd=copy, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return answer.returncode == 0, (answer.stdout + answer.stderr).strip()


def _judge(copy: Path, mutants: list[Mutant]) -> list[Mutant]:
    """Each mutant in turn in this copy; the survivors. The file is restored after each, whatever happens."""
    survivors = []
    for mutant in mutants:
        target = copy / mutant.path
        original = target.read_text(encoding="utf-8")
        try:
            target.write_text(original.replace(mutant.old, mutant.new), encoding="utf-8")
            began = time.monotonic()
            survived, _ = _run(copy, mutant.tests)
        finally:
            target.write_text(original, encoding="utf-8")
        verdict = "SURVIVED" if survived else "killed  "
        print(f"{verdict}  {mutant.name}  ({mutant.rule}; {time.monotonic() - began:.1f} s)", flush=True)
        if survived:
            survivors.append(mutant)
    return survivors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", default="", help="only the mutants whose name contains this")
    parser.add_argument("-j", type=int, default=2, help="mutants judged at once, each in its own copy (default 2)")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if args.k in m.name]
    if not chosen:
        print(f"no mutant's name contains {args.k!r}")
        return 2
    started = time.monotonic()
    jobs = max(1, min(args.j, len(chosen)))
    with tempfile.TemporaryDirectory(prefix="mutation-subset-") as folder:
        copies = [Path(folder) / f"project-{n}" for n in range(jobs)]
        for copy in copies:
            shutil.copytree(ROOT, copy, ignore=_IGNORE)
        for mutant in chosen:  # a stale subset (the code moved on) is an error, not a silent pass
            text = (copies[0] / mutant.path).read_text(encoding="utf-8")
            if text.count(mutant.old) != 1:
                print(f"{mutant.name}: {mutant.path} holds {mutant.old!r} {text.count(mutant.old)} times, not once")
                return 1
        baseline = sorted({test for m in chosen for test in m.tests})
        passed, output = _run(copies[0], tuple(baseline))
        if not passed:
            print(f"the unmutated project fails the subset's tests:\n{output[-3000:]}")
            return 1
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            shares = [chosen[n::jobs] for n in range(jobs)]
            survivors = [m for found in pool.map(_judge, copies, shares) for m in found]
    seconds = time.monotonic() - started
    print(
        f"{len(chosen) - len(survivors)} killed, {len(survivors)} survived, of {len(chosen)} mutants in {seconds:.0f} s"
    )
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
