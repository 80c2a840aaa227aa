"""Scores derived from one answer set: everything a full KOOS or HOOS also yields (SCORING.md 4, SCORING-2.md).

A patient who answers the full KOOS has also answered the WOMAC (LK3.0 items), the KOOS JR and the KOOS-12; one
who answers the full HOOS has answered the WOMAC and the HOOS JR. Each of these is an instrument of its own,
``<short form>_from_<parent>`` (``womac_from_koos``, ``koos_jr_from_koos``, ``koos12_from_koos``,
``womac_from_hoos``, ``hoos_jr_from_hoos``), so its scores are stored and told apart from the short form asked on
its own. ``derive`` scores all of them at once and says which parent items each one used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .engine import ScoreResult, score, validate
from .instruments import INSTRUMENTS, get_instrument


@dataclass(frozen=True)
class DerivedScore:
    """One instrument scored from its parent's answers, with its provenance.

    ``instrument`` is the derived id (``koos_jr_from_koos``); ``scored_as`` the instrument whose rules and outputs
    it has (``koos_jr``); ``derived_from`` the parent (``koos``). ``item_map`` pairs each item of ``scored_as`` with
    the parent item it was taken from, in ``scored_as``'s order; ``items_used`` lists the parent items among them
    that were answered (the values that went into ``result``).
    """

    instrument: str
    scored_as: str
    derived_from: str
    item_map: tuple[tuple[str, str], ...]
    items_used: tuple[str, ...]
    result: ScoreResult


def derived_instruments(from_instrument: str) -> tuple[str, ...]:
    """The ids of the instruments scored from ``from_instrument``'s answers, in ``INSTRUMENTS`` order (empty for
    an instrument nothing is derived from); ``ScoringError`` for an unknown id."""
    parent = get_instrument(from_instrument)
    return tuple(i for i, definition in INSTRUMENTS.items() if definition.derived_from == parent.id)


def _scored_as(instrument_id: str, parent: str) -> str:
    # By construction a derived id is "<scored as>_from_<parent>" and "<scored as>" is an instrument of its own.
    scored_as = instrument_id.removesuffix(f"_from_{parent}")
    assert scored_as in INSTRUMENTS and scored_as != instrument_id, instrument_id
    return scored_as


def derive(from_instrument: str, answers: Mapping[str, object]) -> dict[str, DerivedScore]:
    """Every instrument derived from ``from_instrument``, scored from one answer set of it, by derived id.

    ``answers`` is the whole parent answer set, validated as such first: an invalid item anywhere in it raises
    ``ScoringError``, as ``score(from_instrument, answers)`` would, even one no derived instrument uses. Each
    result is exactly ``score(<derived id>, answers)``. An instrument nothing is derived from gives ``{}``.
    """
    parent = get_instrument(from_instrument)
    ids = derived_instruments(parent.id)
    if not ids:
        return {}
    values = validate(parent, answers)
    derived: dict[str, DerivedScore] = {}
    for instrument_id in ids:
        definition = INSTRUMENTS[instrument_id]
        item_map = definition.item_map
        assert item_map, f"{instrument_id} is derived and names the parent item of each of its items"
        derived[instrument_id] = DerivedScore(
            instrument=instrument_id,
            scored_as=_scored_as(instrument_id, parent.id),
            derived_from=parent.id,
            item_map=item_map,
            items_used=tuple(source for _, source in item_map if source in values),
            result=score(instrument_id, answers),
        )
    return derived
