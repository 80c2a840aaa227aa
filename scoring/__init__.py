"""Exact, sourced scoring of the registry's outcome instruments (SCORING.md).

Pure Python with no dependencies: it never imports Django or the registry's apps, so it can be used, tested
and benchmarked on its own::

    from scoring import score, ScoringError

    result = score("koos", {"P1": 0, "P2": 1, ...})
    result.scores["pain"], result.missing["pain"], result.version
"""

from __future__ import annotations

from .definitions import (
    LABEL_SOURCE_CONTENT,
    LABEL_SOURCE_WORDING,
    AnswerOption,
    Instrument,
    Item,
    Output,
    Section,
    Subscale,
)
from .derive import DerivedScore, derive, derived_instruments
from .engine import SCORING_VERSION, ScoreResult, score, validate_answers
from .errors import ScoringError
from .instruments import INSTRUMENTS, get_instrument
from .responder import OMERACT_OARSI_CITATION, omeract_oarsi_responder
from .thresholds import (
    THRESHOLDS,
    ChangeResult,
    StateResult,
    Threshold,
    find_thresholds,
    mcii_change,
    pass_reached,
)
from .wording import (
    WORDING_FORMAT,
    ItemWording,
    SectionWording,
    Wording,
    item_text,
    load_wording,
    option_labels,
    wording_skeleton,
)

__all__ = [
    "INSTRUMENTS",
    "LABEL_SOURCE_CONTENT",
    "LABEL_SOURCE_WORDING",
    "OMERACT_OARSI_CITATION",
    "SCORING_VERSION",
    "THRESHOLDS",
    "WORDING_FORMAT",
    "AnswerOption",
    "ChangeResult",
    "DerivedScore",
    "Instrument",
    "Item",
    "ItemWording",
    "Output",
    "ScoreResult",
    "ScoringError",
    "Section",
    "SectionWording",
    "StateResult",
    "Subscale",
    "Threshold",
    "Wording",
    "derive",
    "derived_instruments",
    "find_thresholds",
    "get_instrument",
    "item_text",
    "load_wording",
    "mcii_change",
    "omeract_oarsi_responder",
    "option_labels",
    "pass_reached",
    "score",
    "validate_answers",
    "wording_skeleton",
]
