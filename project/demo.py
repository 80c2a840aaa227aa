"""The demo seed across apps: the clinical core's synthetic patients and treatments (registry.demo), with
follow-up's schedule, answers and scores (outcomes.demo) and research pseudonyms (research.services) for each
chunk, in that order, so that the same seed gives the same data."""

from __future__ import annotations

import random
from datetime import date

from outcomes.demo import demo_plans_load, demo_wording_load, seed_outcomes
from registry import demo as core
from registry.demo import SeedError, SeedReport
from registry.demo_consent import demo_consent_load
from registry.models import Site, TreatmentEpisode
from research.services import pseudonyms_assign

__all__ = ["BULK_TABLES", "SeedError", "SeedReport", "seed_demo"]

# The tables a large seed fills most (9 million score rows for 100,000 patients). On an empty PostgreSQL
# database their secondary indexes, unique constraints and foreign keys are built once after the load.
BULK_TABLES = (
    "outcomes_score",
    "outcomes_response",
    "outcomes_historicalresponse",
    "outcomes_followup",
    "outcomes_historicalfollowup",
)


def _sites_ready(sites: list[Site]) -> None:
    demo_wording_load(sites=sites)  # every demo questionnaire can be answered by link
    demo_plans_load(sites=sites)  # the demo protocols ask every instrument a plan may ask
    demo_consent_load(sites=sites)  # patients whose consent is not yet recorded are asked it by their first link


def _chunk_seeded(
    rng: random.Random, episodes: list[TreatmentEpisode], first_product: dict[int, str], as_of: date
) -> dict[str, int]:
    counts = seed_outcomes(rng=rng, episodes=episodes, products=first_product, as_of=as_of)
    # Rows inserted in bulk get no pseudonym from the creating receivers (research.signals); these are the
    # newest rows, so the check above the newest pseudonym finds them.
    pseudonyms_assign(full=False)
    return counts


EXTRAS = core.SeedExtras(sites_ready=_sites_ready, chunk_seeded=_chunk_seeded, bulk_tables=BULK_TABLES)


def seed_demo(
    *,
    patients: int,
    seed: int,
    sites: int,
    as_of: date,
    chunk_size: int = 5000,
    defer_indexes: bool | None = None,
) -> SeedReport:
    """registry.demo.seed_demo with every app's share (see there: idempotent per site, deterministic)."""
    return core.seed_demo(
        patients=patients,
        seed=seed,
        sites=sites,
        as_of=as_of,
        chunk_size=chunk_size,
        defer_indexes=defer_indexes,
        extras=EXTRAS,
    )
