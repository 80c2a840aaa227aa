"""How many responses per second ``score()`` handles, per instrument, in one process on one core.

    python -m scoring.benchmark               # about 1 s per instrument, about 12 s in all
    python -m scoring.benchmark --seconds 3   # steadier figures

The responses are random but valid, with a few items left unanswered, made from the instrument definitions
with a fixed seed, so two runs score the same data.
"""

from __future__ import annotations

import argparse
import platform
import random
import time
from collections.abc import Mapping, Sequence

from .definitions import Instrument
from .engine import SCORING_VERSION, score
from .instruments import INSTRUMENTS


def make_responses(instrument: Instrument, count: int, seed: int = 1) -> list[dict[str, object]]:
    """``count`` valid answer sets; about one item in twenty is left unanswered (``None``)."""
    rng = random.Random(seed)  # noqa: S311 - benchmark data, not security
    responses: list[dict[str, object]] = []
    for _ in range(count):
        answers: dict[str, object] = {}
        for item in instrument.items:
            if rng.random() < 0.05:
                answers[item.code] = None
            elif item.kind == "choice":
                answers[item.code] = rng.choice(item.values)
            elif item.kind == "integer":
                assert item.min is not None and item.max is not None
                answers[item.code] = rng.randint(item.min, item.max)
            else:
                assert item.min is not None and item.max is not None
                answers[item.code] = round(rng.uniform(item.min, item.max), 1)
        responses.append(answers)
    return responses


def measure(instrument_id: str, responses: Sequence[Mapping[str, object]], seconds: float) -> float:
    """Responses scored per second, scoring the pool round and round for at least ``seconds``."""
    # An instrument scored with a value set (EQ-5D-5L) is measured in its first one.
    value_sets = INSTRUMENTS[instrument_id].value_sets
    value_set = value_sets[0] if value_sets else None
    scored = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        for answers in responses:
            score(instrument_id, answers, value_set=value_set)
        scored += len(responses)
        elapsed = time.perf_counter() - start
    return scored / elapsed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m scoring.benchmark",
        description="Responses scored per second, per instrument, on one core.",
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="time per instrument (default 1.0)")
    parser.add_argument("--pool", type=int, default=500, help="responses per instrument (default 500)")
    args = parser.parse_args(argv)
    print(
        f"scoring {SCORING_VERSION} on Python {platform.python_version()} ({platform.machine()}), "
        f"one process, one thread, {args.seconds:g} s per instrument"
    )
    print(f"{'instrument':<16} {'responses/s':>12}")
    for instrument_id, instrument in INSTRUMENTS.items():
        rate = measure(instrument_id, make_responses(instrument, args.pool), args.seconds)
        print(f"{instrument_id:<16} {rate:>12,.0f}", flush=True)


if __name__ == "__main__":
    main()
