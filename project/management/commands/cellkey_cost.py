"""What cell-key perturbation costs in accuracy: a few score summaries computed exact (as a rows key gets them)
and perturbed (as a summary key gets them), compared cell by cell over the cells shown.

    python manage.py seed_demo && python manage.py cellkey_cost

Prints, per summary and over all: the cells compared, the mean absolute change of n, of n_subjects and of the
mean, and the largest change of the mean. The figures in README and research.summaries come from this command.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from registry.models import Site
from research import deid
from research.access import research_queryset
from research.services import api_key_create
from research.summaries.scores import score_summary

SUMMARIES = [
    ("koos", "pain", []),
    ("koos", "pain", ["product_type"]),
    ("koos", "adl", ["site"]),
    ("koos", "qol", ["kl_grade"]),
    ("koos", "symptoms", ["product_type", "joint"]),
]


def _cells(body: dict[str, Any]) -> dict[tuple, dict[str, Any]]:
    out = {}
    for group in [*body["groups"], *([body["overall"]] if body["overall"] else [])]:
        label = tuple(sorted(group["group"].items()))
        for tp in group["timepoints"]:
            for block in ("level", "change"):
                cell = tp[block]
                if cell and not cell["suppressed"]:
                    out[(label, tp["timepoint"], block)] = cell
    return out


class Command(BaseCommand):
    help = "Measure the accuracy cost of cell-key perturbation on the summaries of the current data (e.g. the demo)."

    def handle(self, *args: Any, **opts: Any) -> None:
        if not Site.objects.exists():
            raise CommandError("No sites: run seed_demo first.")
        # A key of every site for the length of the command: rolled back at the end, never kept.
        with transaction.atomic():
            key, _raw = api_key_create(name="cellkey_cost", sites=Site.objects.all())
            self.measure(deid.TREATMENTS.annotate(research_queryset(deid.TREATMENTS.model, key)))
            transaction.set_rollback(True)

    def measure(self, queryset: Any) -> None:
        self.stdout.write(
            f"Cell-key perturbation, D={settings.RESEARCH_CELL_KEY_MAX_PERTURBATION}, "
            f"V={settings.RESEARCH_CELL_KEY_VARIANCE}, min cell {settings.RESEARCH_MIN_CELL_SIZE}"
        )
        totals = {"cells": 0, "n": 0.0, "n_subjects": 0.0, "mean": 0.0, "max_mean": 0.0}
        for instrument, score, group_by in SUMMARIES:
            common = {
                "queryset": queryset,
                "instrument": instrument,
                "key": score,
                "group_by": group_by,
                "min_cell": settings.RESEARCH_MIN_CELL_SIZE,
            }
            exact = _cells(score_summary(**common))
            perturbed = _cells(score_summary(**common, perturb=True))
            both = [k for k in exact if k in perturbed]
            if not both:
                continue
            dn = sum(abs(exact[k]["n"] - perturbed[k]["n"]) for k in both)
            ds = sum(abs(exact[k]["n_subjects"] - perturbed[k]["n_subjects"]) for k in both)
            means = [abs(exact[k]["mean"] - perturbed[k]["mean"]) for k in both if exact[k]["mean"] is not None]
            totals["cells"] += len(both)
            totals["n"] += dn
            totals["n_subjects"] += ds
            totals["mean"] += sum(means)
            totals["max_mean"] = max(totals["max_mean"], *means)
            self.stdout.write(
                f"  {instrument} {score} by {','.join(group_by) or 'nothing'}: {len(both)} cells, mean |dn| "
                f"{dn / len(both):.2f}, mean |dn_subjects| {ds / len(both):.2f}, mean |dmean| "
                f"{sum(means) / len(means):.3f} points (largest {max(means):.3f})"
            )
        cells = totals["cells"] or 1
        self.stdout.write(
            f"All: {totals['cells']} cells, mean |dn| {totals['n'] / cells:.2f}, mean |dn_subjects| "
            f"{totals['n_subjects'] / cells:.2f}, mean |dmean| {totals['mean'] / cells:.3f} points "
            f"(largest {totals['max_mean']:.3f})"
        )
