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
- Disclosure control by key tier: a rows-tier key (it reads the rows anyway) gets the exact figures; a
  summary-tier key gets the score summaries perturbed by cell key (research.summaries.cellkey, the method of the
  Australian Bureau of Statistics' TableBuilder), suppression still decided on the true counts. Each episode and
  subject has fixed record keys (HMAC-SHA256 of its pseudonym under RESEARCH_CELL_KEY_SECRET); a cell's key is
  the sum of its records' keys mod 2**32; the perturbation of a count n is read from the cell key in the
  cumulative distribution of a zero-mean, maximum-entropy law on [-D, D] of variance V
  (RESEARCH_CELL_KEY_MAX_PERTURBATION, default 2; RESEARCH_CELL_KEY_VARIANCE, default 1.0), restricted so that
  the count stays at or above 0 and, when shown, at or above the suppression minimum (0 stays 0). Means and SDs
  move by xi * (half the score's range) / n' with xi uniform of variance V (capped at D), picked by the cell's
  other two keys (the additive perturbation of magnitude cells); intervals are recomputed from the perturbed
  mean, SD and count n'; shares are a perturbed numerator over a perturbed denominator. The same query, or any
  whose cell holds the same records, gets the same answer, so repeating reveals nothing; differencing two
  overlapping cells gives the small group's n only within 2D (exact in about a quarter of cases, never known
  which) and its mean with noise of about h * sqrt(2 V) / n_small (8 points at n=9 on a 0-100 score).
  What it costs, measured on the demo (`manage.py seed_demo --patients 240 --seed 42 --sites 2`, then
  `manage.py cellkey_cost`): over 109 shown level and change cells of five KOOS summaries, mean |change| of n
  0.81, of n_subjects 0.76, of the mean 1.81 points (largest 7.1). Kaplan-Meier for a summary key: at each
  event time the number at risk and the events are perturbed by their own episodes' cell keys and the curve and
  its Greenwood interval computed from them; the table's counts and the group's n, n_subjects and n_events too.
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
