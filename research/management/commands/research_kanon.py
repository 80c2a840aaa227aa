"""`manage.py research_kanon [--key PREFIX | --sites CODE,...] [--k N]`: the k-anonymity of the current research
release (research/kanon.py), per site: its policy, subjects and rows, the smallest equivalence class with exact
values, after banding and as released, the classes under k, and the values blanked per quasi-identifier; a site of
fewer than k subjects is withheld (none of its rows are released) and named. Exits non-zero, saying why, on a bad
argument or if a released class held fewer than k subjects (a bug: the suppression never releases one)."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import F

from registry.models import Site, TreatmentEpisode
from research import kanon
from research.access import registry_research_queryset
from research.deid import age_at_index
from research.models import ApiKey


def _k(raw: str) -> int:
    try:
        k = int(raw)
    except ValueError:
        k = 0
    if not 2 <= k <= 100:
        raise CommandError(f"--k must be a whole number from 2 to 100 (got {raw!r}).")
    return k


def _exact_classes(site_ids: list[int]) -> dict[int, dict[tuple[Any, ...], set[int]]]:
    """Per site, the classes of (sex, exact age, exact BMI): what the release would be without banding."""
    episodes = registry_research_queryset(TreatmentEpisode).filter(patient__site_id__in=site_ids)
    rows = (
        episodes.order_by()
        .annotate(_age=age_at_index(""), _sex=F("patient__sex"), _site=F("patient__site_id"))
        .values_list("_site", "_sex", "_age", "bmi", "patient_id")
        .distinct()
    )
    out: dict[int, dict[tuple[Any, ...], set[int]]] = defaultdict(lambda: defaultdict(set))
    for site, sex, age, bmi, patient in rows:
        out[site][(sex, age, bmi)].add(patient)
    return out


class Command(BaseCommand):
    help = "Report the k-anonymity of the research release, per site, and the sites withheld as under k."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--key", metavar="PREFIX", help="the release of the usable API key with this prefix")
        which.add_argument("--sites", metavar="CODE,...", help="the release of these sites (default: every site)")
        parser.add_argument("--k", metavar="N", type=str, help="check against this k instead of each site's policy")

    def handle(self, *args: Any, **options: Any) -> None:
        override = _k(options["k"]) if options["k"] is not None else None
        site_ids = self._sites(options)
        started = time.perf_counter()
        release = kanon.release_for_sites(site_ids, k=override)
        elapsed = time.perf_counter() - started
        exact = _exact_classes(site_ids)
        below = []
        for site in sorted(release.sites.values(), key=lambda s: s.code):
            before = site.classes_before()
            after = site.classes_after()
            k = site.policy.k
            raw = [len(s) for s in exact[site.site_id].values()]
            blanked = site.suppressed_values()
            self.stdout.write(f"{site.code}: {site.policy.describe()}")
            if site.withheld:
                self.stdout.write(
                    f"  subjects {site.subjects}, rows {site.episodes}: fewer than k={k} subjects, so WITHHELD: none "
                    "of its rows are released (no blanking can make a site's only class hold k); they are released "
                    f"once it holds {k}"
                )
                continue
            self.stdout.write(
                f"  subjects {site.subjects}, rows {site.episodes}; QIs blanked in the order {', '.join(site.order)}"
            )
            self.stdout.write(
                f"  smallest class: exact values {min(raw, default=0)}, banded {min(before.values(), default=0)}, "
                f"released {min(after.values(), default=0)}"
            )
            self.stdout.write(
                f"  classes of a single subject: exact values {sum(1 for n in raw if n == 1)}, banded "
                f"{sum(1 for n in before.values() if n == 1)}, released {sum(1 for n in after.values() if n == 1)}"
            )
            self.stdout.write(
                f"  classes under k: banded {sum(1 for n in before.values() if n < k)}, released "
                f"{sum(1 for n in after.values() if n < k)}"
            )
            self.stdout.write(f"  blanked values: {', '.join(f'{qi} {n}' for qi, n in blanked.items())} (rows)")
            if not site.meets_k:
                below.append(site)
        self.stdout.write(
            f"Decided in {elapsed * 1000:.0f} ms for {sum(s.episodes for s in release.sites.values())} rows."
        )
        if below:
            # The suppression guarantees k for a site it releases: reaching this is a bug, never a policy choice.
            raise CommandError(
                "; ".join(f"{s.code} releases a class of fewer than k={s.policy.k} subjects" for s in below)
            )
        withheld = [s.code for s in sorted(release.sites.values(), key=lambda s: s.code) if s.withheld]
        if withheld:
            self.stdout.write(f"Withheld (fewer than k subjects): {', '.join(withheld)}.")
        self.stdout.write("Every released combination holds at least k subjects.")

    def _sites(self, options: dict[str, Any]) -> list[int]:
        if options["key"] is not None:
            prefix = options["key"].strip()
            if not prefix:
                raise CommandError("--key needs the key's prefix (rk_...), as the admin's key list shows it.")
            # The stored prefix (rk_ and 6 characters), part of it, or the whole key.
            matches = [k for k in ApiKey.objects.usable() if prefix.startswith(k.prefix) or k.prefix.startswith(prefix)]
            if not matches:
                raise CommandError(f"No usable API key starts with {prefix!r}.")
            if len(matches) > 1:
                raise CommandError(f"{len(matches)} usable keys start with {prefix!r}: give more of the prefix.")
            return list(matches[0].sites.values_list("pk", flat=True))
        if options["sites"] is not None:
            codes = [c.strip() for c in options["sites"].split(",") if c.strip()]
            if not codes:
                raise CommandError("--sites needs one or more site codes, comma-separated.")
            found = dict(Site.objects.filter(code__in=codes).values_list("code", "pk"))
            unknown = [c for c in codes if c not in found]
            if unknown:
                raise CommandError(f"Unknown site code: {', '.join(unknown)}.")
            return [found[c] for c in codes]
        return list(Site.objects.values_list("pk", flat=True))
