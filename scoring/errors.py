"""The one exception of the scoring engine."""

from __future__ import annotations


class ScoringError(ValueError):
    """Invalid input to the scoring engine (SCORING.md section 1, "Conventions").

    A ``ValueError`` so that callers that already turn ``ValueError`` into a 400 keep working. The message
    names the instrument, the item and what is wrong, and is safe to show to the person who entered the
    answer.
    """
