"""Scores derived from a full KOOS or HOOS answer set (SCORING-2.md part 2): KOOS JR and KOOS-12 from KOOS, HOOS JR
from HOOS, beside the derived WOMAC; ``derive()`` with provenance; derived == direct on the mapped items.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import DerivedScore, ScoringError, derive, derived_instruments, get_instrument, score

SETTINGS = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# SCORING-2.md, written out independently of the package: short form -> (parent, the parent items it is made of).
MAPPED = {
    "koos_jr": ("koos", ["S6", "P2", "P3", "P6", "P9", "A3", "A5"]),
    "koos12": ("koos", ["P1", "P5", "P6", "P8", "A3", "A4", "A7", "SP4", "Q1", "Q2", "Q3", "Q4"]),
    "hoos_jr": ("hoos", ["P5", "P10", "A3", "A5", "A12", "A14"]),
}
KOOS_CODES = (
    [f"S{n}" for n in range(1, 8)]
    + [f"P{n}" for n in range(1, 10)]
    + [f"A{n}" for n in range(1, 18)]
    + [f"SP{n}" for n in range(1, 6)]
    + [f"Q{n}" for n in range(1, 5)]
)
HOOS_CODES = (
    [f"S{n}" for n in range(1, 6)]
    + [f"P{n}" for n in range(1, 11)]
    + [f"A{n}" for n in range(1, 18)]
    + [f"SP{n}" for n in range(1, 5)]
    + [f"Q{n}" for n in range(1, 5)]
)
PARENT_CODES = {"koos": KOOS_CODES, "hoos": HOOS_CODES}


@st.composite
def parent_answers(draw: st.DrawFn, parent: str) -> dict[str, object]:
    """A valid KOOS/HOOS answer set: each item 0-4, left out or None now and then, from none at all to all."""
    missing_in_ten = draw(st.sampled_from([0, 0, 1, 3, 7, 10]))
    answers: dict[str, object] = {}
    for code in PARENT_CODES[parent]:
        if draw(st.integers(0, 9)) < missing_in_ten:
            if draw(st.booleans()):
                answers[code] = None
        else:
            answers[code] = draw(st.integers(0, 4))
    return answers


def test_which_instruments_are_derived_from_which():
    assert derived_instruments("koos") == ("womac_from_koos", "koos_jr_from_koos", "koos12_from_koos")
    assert derived_instruments("hoos") == ("womac_from_hoos", "hoos_jr_from_hoos")
    for instrument_id in (
        "womac",
        "hhs",
        "mhhs",
        "vas",
        "nrs",
        "odi",
        "koos_jr",
        "hoos_jr",
        "koos12",
        "promis10",
    ):
        assert derived_instruments(instrument_id) == ()
        assert derive(instrument_id, {}) == {}


@pytest.mark.parametrize("instrument_id", ["KOOS", "koos_jr_from_koos_x", "", None])
def test_derive_refuses_an_unknown_parent(instrument_id):
    with pytest.raises(ScoringError, match="unknown instrument"):
        derive(instrument_id, {})


@pytest.mark.parametrize("short_form", MAPPED)
def test_a_derived_short_form_asks_the_parents_items_and_gives_the_short_forms_outputs(short_form):
    parent, codes = MAPPED[short_form]
    derived = get_instrument(f"{short_form}_from_{parent}")
    assert derived.derived_from == parent
    assert derived.items == get_instrument(parent).items
    assert derived.sections == get_instrument(parent).sections
    assert derived.outputs == get_instrument(short_form).outputs
    assert derived.subscales == get_instrument(short_form).subscales
    assert derived.item_map == tuple((code, code) for code in codes)
    assert derived.notes and parent.upper() in derived.notes[0]
    assert parent.upper() in derived.licence


@SETTINGS
@given(st.data())
def test_derived_equals_direct_on_the_mapped_items(data):
    short_form = data.draw(st.sampled_from(sorted(MAPPED)))
    parent, codes = MAPPED[short_form]
    answers = data.draw(parent_answers(parent))
    direct = score(short_form, {code: answers[code] for code in codes if code in answers})
    from_parent = score(f"{short_form}_from_{parent}", answers)
    derived = derive(parent, answers)[f"{short_form}_from_{parent}"]
    for result in (from_parent, derived.result):
        assert result.scores == direct.scores
        assert result.exact == direct.exact
        assert result.missing == direct.missing
    assert result.instrument == f"{short_form}_from_{parent}"
    # Provenance: which parent items it was made of, and which of them were answered.
    assert derived.scored_as == short_form
    assert derived.derived_from == parent
    assert derived.item_map == tuple((code, code) for code in codes)
    assert derived.items_used == tuple(code for code in codes if answers.get(code) is not None)


@SETTINGS
@given(st.data())
def test_derive_gives_every_derived_score_of_the_parent_exactly_as_score_does(data):
    parent = data.draw(st.sampled_from(["koos", "hoos"]))
    answers = data.draw(parent_answers(parent))
    derived = derive(parent, answers)
    assert list(derived) == list(derived_instruments(parent))
    for instrument_id, item in derived.items():
        assert isinstance(item, DerivedScore)
        assert item.instrument == instrument_id
        assert item.result == score(instrument_id, answers)


def test_derive_names_the_parent_items_of_the_derived_womac_too():
    answers = dict.fromkeys(KOOS_CODES, 1)
    womac = derive("koos", answers)["womac_from_koos"]
    assert womac.scored_as == "womac"
    assert womac.item_map[:7] == (
        ("P1", "P5"), ("P2", "P6"), ("P3", "P7"), ("P4", "P8"), ("P5", "P9"), ("S1", "S6"), ("S2", "S7"),
    )  # fmt: skip
    assert womac.items_used == tuple(
        ["P5", "P6", "P7", "P8", "P9", "S6", "S7"] + [f"A{n}" for n in range(1, 18)]
    )


def test_a_full_koos_gives_koos_jr_and_koos12_worked_example():
    answers = dict.fromkeys(KOOS_CODES, 0) | {"S6": 1, "P2": 2, "P6": 3, "A5": 4, "P1": 4, "Q1": 2}
    derived = derive("koos", answers)
    assert derived["koos_jr_from_koos"].result.scores == {"raw": 10, "interval": 61.583}
    assert derived["koos12_from_koos"].result.scores == {
        "pain": 100 - 25 * (4 + 0 + 3 + 0) / 4,
        "function": 100.0,
        "qol": 100 - 25 * 2 / 4,
        "summary": (56.25 + 100 + 87.5) / 3,  # 81.25
    }
    assert derive("hoos", dict.fromkeys(HOOS_CODES, 1))["hoos_jr_from_hoos"].result.scores == {
        "raw": 6,
        "interval": 70.426,
    }


def test_an_unmapped_missing_item_does_not_matter_and_a_mapped_one_does():
    answers = dict.fromkeys(KOOS_CODES, 2)
    assert derive("koos", {**answers, "S1": None})["koos_jr_from_koos"].result.scores["raw"] == 14
    missing_s6 = derive("koos", {**answers, "S6": None})["koos_jr_from_koos"]
    assert missing_s6.result.scores == {"raw": None, "interval": None}
    assert missing_s6.items_used == ("P2", "P3", "P6", "P9", "A3", "A5")


@pytest.mark.parametrize("parent", ["koos", "hoos"])
def test_the_whole_parent_answer_set_is_validated(parent):
    # S1 is in neither short form: an invalid S1 still rejects the derived scores, as it rejects the parent.
    for bad in ({"S1": 5}, {"S1": 2.0}, {"S1": "2"}, {"S1": True}, {"s1": 2}, {"X1": 2}):
        with pytest.raises(ScoringError):
            score(parent, bad)
        with pytest.raises(ScoringError):
            derive(parent, bad)
        for instrument_id in derived_instruments(parent):
            with pytest.raises(ScoringError):
                score(instrument_id, bad)
    with pytest.raises(ScoringError, match="mapping"):
        derive(parent, [("S1", 1)])  # type: ignore[arg-type]


def test_a_derived_form_says_it_takes_the_whole_parent_answer_set():
    with pytest.raises(ScoringError, match="takes the whole koos answer set"):
        score("koos_jr_from_koos", {"Global01": 3})
    # The short form on its own takes only its own items.
    with pytest.raises(ScoringError, match="unknown item code 'S1'"):
        score("koos_jr", {"S1": 1})
