"""The small-cell rule itself (research.summaries.statistics.suppress), on plain cells: no database, so each mutant
of the rule is judged in a second (mutation/statistics.toml).

Rule: a cell from fewer than `min_cell` subjects is withheld (primary); when the overall row is shown and exactly one
group is withheld, the smallest shown group is withheld too (secondary), so the withheld group cannot be derived as
overall minus the others.
"""

from research.summaries.statistics import Cell, suppress


def _cell(subjects: int) -> Cell:
    return Cell(subjects=subjects, numbers={"n": subjects, "mean": 1.5})


def _kinds(cells: list[Cell]) -> list[str | None]:
    return [None if c.suppression is None else c.suppression.split(":")[0] for c in cells]


def test_a_cell_at_the_threshold_is_shown_and_one_below_is_withheld():
    groups = [_cell(10), _cell(11), _cell(12)]
    suppress(groups, None, 11)
    assert _kinds(groups) == ["primary", None, None]
    assert groups[0].suppression == "primary: computed from fewer than 11 subjects"


def test_the_overall_row_is_withheld_below_the_threshold_too_and_then_no_group_is_withheld_for_it():
    groups = [_cell(4), _cell(12), _cell(13)]
    overall = _cell(8)  # smaller than the threshold itself
    suppress(groups, overall, 10)
    assert _kinds([overall]) == ["primary"]
    assert _kinds(groups) == ["primary", None, None]  # the overall is hidden: no complement needed


def test_one_withheld_group_under_a_shown_overall_takes_the_smallest_shown_group_with_it():
    groups = [_cell(30), _cell(9), _cell(20), _cell(25)]
    overall = _cell(84)
    suppress(groups, overall, 11)
    assert _kinds(groups) == [None, "primary", "secondary", None]
    assert groups[2].suppression.startswith("secondary: withheld so that the suppressed group cannot be derived")
    assert overall.suppression is None
    rendered = groups[2].render()
    assert rendered["suppressed"] is True and rendered["n"] is None and rendered["mean"] is None


def test_two_withheld_groups_need_no_complement():
    groups = [_cell(3), _cell(5), _cell(40)]
    overall = _cell(48)
    suppress(groups, overall, 11)
    assert _kinds(groups) == ["primary", "primary", None]


def test_nothing_withheld_leaves_every_cell_shown():
    groups = [_cell(11), None, _cell(50)]
    overall = _cell(61)
    suppress(groups, overall, 11)
    assert _kinds([groups[0], groups[2], overall]) == [None, None, None]
    assert groups[0].render() == {"suppressed": False, "suppression": None, "n": 11, "mean": 1.5}


def test_a_lone_withheld_group_with_no_other_group_shown_withholds_nothing_more():
    groups = [_cell(5)]
    overall = _cell(5)
    suppress(groups, overall, 4)  # both shown: nothing under 4
    assert _kinds(groups + [overall]) == [None, None]
    groups, overall = [_cell(3), None], _cell(30)
    suppress(groups, overall, 4)
    assert _kinds([groups[0], overall]) == ["primary", None]
