"""The benchmark runs and prints one figure per instrument (its full run is `python -m scoring.benchmark`)."""

from __future__ import annotations

import re

from scoring import INSTRUMENTS, score
from scoring.benchmark import main, make_responses


def test_benchmark_responses_are_valid_and_reproducible():
    for instrument_id, instrument in INSTRUMENTS.items():
        responses = make_responses(instrument, 20)
        assert responses == make_responses(instrument, 20)
        value_set = instrument.value_sets[0] if instrument.value_sets else None
        for answers in responses:
            score(instrument_id, answers, value_set=value_set)


def test_benchmark_prints_responses_per_second_for_each_instrument(capsys):
    main(["--seconds", "0.001", "--pool", "3"])
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1] for line in lines[2:]}
    assert list(rows) == list(INSTRUMENTS)
    assert all(re.fullmatch(r"[\d,]+", figure) for figure in rows.values())
