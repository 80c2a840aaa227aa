"""Group summaries a statistician can publish: scores by timepoint, change from baseline, clinically important
improvement, OMERACT-OARSI response, and time to arthroplasty (Kaplan-Meier), with small cells suppressed.

Scores: research.summaries.scores; time to arthroplasty: research.summaries.survival; the statistics on plain
numbers: research.summaries.statistics. Methods (also returned with every summary, so a figure can always say
how it was made):

- Unit of analysis: the treatment episode (a treated joint). A subject treated bilaterally contributes two
  episodes; each cell reports both `n` (episodes) and `n_subjects`. Confidence intervals treat episodes as
  independent.
- Mean with the SD (n - 1 denominator) and a 95% CI from Student's t with n - 1 degrees of freedom.
- Change from baseline: within episode, follow-up minus baseline, for episodes with both (complete pairs), with
  the same t interval.
- MCII: the share of complete pairs whose change reaches the published minimal clinically important improvement
  for the episode's joint (scoring.mcii_change: inclusive, exact). Each threshold is named with its citation.
  Pairs for which no threshold is published (e.g. KOOS at the hip) are counted apart. Shares carry a 95% Wilson
  score interval.
- OMERACT-OARSI responders (Pham 2004) where the instrument gives pain and function on a 0-100 scale: WOMAC
  (and WOMAC derived from KOOS/HOOS) pain and function 0-100; KOOS/HOOS pain and ADL as 100 - score. The
  registry records no patient global assessment, so a subject improving by 20% and 10 points in only one of pain
  and function is indeterminate (the global would decide); the share is over determinate pairs and the
  indeterminate are counted.
- Time to arthroplasty: from the index date to the first total or partial arthroplasty of the treated joint.
  Episodes without one are censored at the last day the registry knows about them (answered follow-up,
  administration, adverse event or other surgery), or with `censoring=administrative` at today. Spine episodes
  are left out (arthroplasty is not a spinal procedure). Kaplan-Meier estimate with Greenwood's variance and the
  log(-log) 95% CI (as lifelines and R's survival package with conf.type="log-log").
- Suppression: a cell computed from fewer than RESEARCH_MIN_CELL_SIZE subjects (default 11) is suppressed: its
  numbers are withheld and it is marked. When the summary is grouped, an "overall" row is given too; since the
  overall row is the sum of the groups, a single suppressed group could be derived from it and the others, so
  the smallest other group of that cell is suppressed as well (complementary suppression). Kaplan-Meier rows
  and curve steps with fewer subjects at risk than the threshold are withheld.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections

from research.dbsettings import local_settings
from research.deid import ALIAS_PREFIX

# What the summaries may group by (the API's group_by), and the helpers both kinds of summary share.
GROUPS = ("product_type", "source", "kl_grade", "joint", "site")


def alias(name: str) -> str:
    return ALIAS_PREFIX + name


def fetch(using: str, sql: str, params: Sequence[Any]) -> list[tuple]:
    """Run one summary statement. PostgreSQL would JIT-compile these (their estimated cost is above jit_above_cost
    at a registry's size), which takes longer than running them: 0.35 s became 1.9 s at 25,000 patients. Their
    hashes and sorts (about 140,000 episodes at 100,000 patients) spill to disk in the default 4 MB of work_mem.
    SET LOCAL keeps the settings to this transaction (the enclosing one, if a caller holds one open)."""
    with local_settings(using, jit="off", work_mem="32MB"), connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def group_label(group_by: Sequence[str], key: tuple) -> dict[str, Any]:
    return dict(zip(group_by, key, strict=True))


def sort_key(key: tuple) -> tuple:
    return tuple((v is None, str(v)) for v in key)
