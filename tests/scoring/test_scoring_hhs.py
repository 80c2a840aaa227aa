"""Harris Hip Score (Harris 1969) and modified HHS (Byrd & Jones 2000): SCORING.md section 5."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from scoring import ScoringError, score

# SCORING.md section 5, the points table, written out independently of the package.
POINTS = {
    "pain": {"none": 44, "slight": 40, "mild": 30, "moderate": 20, "marked": 10, "totally_disabled": 0},
    "limp": {"none": 11, "slight": 8, "moderate": 5, "severe": 0},
    "support": {
        "none": 11,
        "cane_long_walks": 7,
        "cane_most_time": 5,
        "one_crutch": 3,
        "two_canes": 2,
        "two_crutches": 0,
        "not_able_to_walk": 0,
    },
    "distance": {
        "unlimited": 11,
        "six_blocks": 8,
        "two_three_blocks": 5,
        "indoors_only": 2,
        "bed_and_chair": 0,
    },
    "stairs": {"normal_no_railing": 4, "normal_with_railing": 2, "any_manner": 1, "unable": 0},
    "shoes_socks": {"with_ease": 4, "with_difficulty": 2, "unable": 0},
    "sitting": {"ordinary_chair_1h": 5, "high_chair_half_hour": 3, "unable": 0},
    "public_transport": {"able": 1, "unable": 0},
}
GAIT = ("limp", "support", "distance")
ACTIVITIES = ("stairs", "shoes_socks", "sitting", "public_transport")
BEST = {field: max(codes, key=codes.__getitem__) for field, codes in POINTS.items()}
NO_DEFORMITY = {
    "fixed_flexion_contracture_deg": 0,
    "fixed_adduction_deg": 0,
    "fixed_internal_rotation_deg": 0,
    "limb_length_discrepancy_cm": 0,
}
NORMAL_ARCS = {
    "flexion_deg": 110,
    "abduction_deg": 20,
    "adduction_deg": 15,
    "external_rotation_deg": 15,
    "internal_rotation_deg": 10,
}
NO_MOTION = dict.fromkeys(NORMAL_ARCS, 0)


def hhs(**fields: object) -> dict[str, object]:
    """A complete HHS response: best answers, no deformity, normal arcs, with ``fields`` replacing some."""
    return {**BEST, **NO_DEFORMITY, **NORMAL_ARCS, **fields}


def test_best_hip_scores_100_with_the_rom_capped_at_5():
    scores = score("hhs", hhs()).scores
    assert scores == {
        "pain": 44,
        "gait": 33,
        "activities": 14,
        "function": 47,
        "deformity": 4,
        "rom_index_sum": 100.5,
        "rom": 5.0,  # 100.5 x 0.05 = 5.025, capped
        "total": 100.0,
        "category": "excellent",
    }


@pytest.mark.parametrize(
    ("field", "code", "points"),
    [(field, code, points) for field, codes in POINTS.items() for code, points in codes.items()],
)
def test_every_answer_is_worth_its_points(field, code, points):
    scores = score("hhs", hhs(**{field: code})).scores
    if field == "pain":
        assert scores["pain"] == points
    elif field in GAIT:
        assert scores["gait"] == 33 - 11 + points
    else:
        assert scores["activities"] == 14 - max(POINTS[field].values()) + points
    assert scores["function"] == scores["gait"] + scores["activities"]


def test_components_are_integers_and_total_a_float():
    scores = score("hhs", hhs(limp="slight")).scores
    assert isinstance(scores["pain"], int) and isinstance(scores["function"], int)
    assert isinstance(scores["total"], float)


@pytest.mark.parametrize(
    ("field", "value", "deformity"),
    [
        ("fixed_flexion_contracture_deg", 29, 4),
        ("fixed_flexion_contracture_deg", 29.9, 4),
        ("fixed_flexion_contracture_deg", 30, 0),  # "less than 30": 30 degrees fails
        ("fixed_flexion_contracture_deg", 30.0, 0),
        ("fixed_adduction_deg", 9.9, 4),
        ("fixed_adduction_deg", 10, 0),
        ("fixed_internal_rotation_deg", Decimal("9.99"), 4),
        ("fixed_internal_rotation_deg", 10, 0),
        ("limb_length_discrepancy_cm", 3.1, 4),
        ("limb_length_discrepancy_cm", 3.19, 4),
        ("limb_length_discrepancy_cm", 3.2, 0),  # strictly less than 3.2
        ("limb_length_discrepancy_cm", Decimal("3.2"), 0),
        ("limb_length_discrepancy_cm", Fraction(16, 5), 0),
        ("limb_length_discrepancy_cm", 30, 0),
    ],
)
def test_deformity_gives_4_only_when_every_limit_holds_strictly(field, value, deformity):
    assert score("hhs", hhs(**{field: value})).scores["deformity"] == deformity


@pytest.mark.parametrize(
    ("field", "degrees", "index"),
    [
        ("flexion_deg", 0, 0),
        ("flexion_deg", 45, 45),  # 0-45 x 1.0
        ("flexion_deg", 46, Fraction(456, 10)),  # + 1 x 0.6
        ("flexion_deg", 90, 72),  # + 45 x 0.6
        ("flexion_deg", 100, 75),  # + 10 x 0.3
        ("flexion_deg", 110, 78),  # + 20 x 0.3
        ("flexion_deg", 120, 78),  # beyond 110 x 0
        ("flexion_deg", 180, 78),
        ("flexion_deg", 45.5, Fraction(453, 10)),
        ("abduction_deg", 15, 12),  # 0-15 x 0.8
        ("abduction_deg", 16, Fraction(123, 10)),  # + 1 x 0.3
        ("abduction_deg", 20, Fraction(27, 2)),
        ("abduction_deg", 45, Fraction(27, 2)),  # beyond 20 x 0
        ("external_rotation_deg", 10, 4),  # 0-15 x 0.4
        ("external_rotation_deg", 15, 6),
        ("external_rotation_deg", 40, 6),  # beyond x 0
        ("internal_rotation_deg", 45, 0),  # x 0
        ("internal_rotation_deg", 90, 0),
        ("adduction_deg", 10, 2),  # 0-15 x 0.2
        ("adduction_deg", 15, 3),
        ("adduction_deg", 30, 3),  # beyond x 0
    ],
)
def test_each_range_of_motion_segment_has_its_weight(field, degrees, index):
    result = score("hhs", hhs(**{**NO_MOTION, field: degrees}))
    assert result.exact["rom_index_sum"] == index
    assert result.exact["rom"] == Fraction(index) / 20  # x 0.05
    assert result.scores["rom_index_sum"] == float(index)


@pytest.mark.parametrize(
    ("arcs", "index", "rom"),
    [
        ({"adduction_deg": Fraction(25, 2)}, 100, Fraction(5)),  # exactly 5, not capped
        ({}, Fraction(201, 2), Fraction(5)),  # normal arcs: 5.025, capped at 5
        ({"adduction_deg": 10}, Fraction(199, 2), Fraction(199, 40)),  # 4.975
        (
            {"flexion_deg": 180, "abduction_deg": 90, "external_rotation_deg": 90, "adduction_deg": 90},
            Fraction(201, 2),
            5,
        ),
    ],
)
def test_rom_is_capped_at_5(arcs, index, rom):
    result = score("hhs", hhs(**arcs))
    assert result.exact["rom_index_sum"] == index
    assert result.exact["rom"] == rom


# Totals at and just below each category floor: pain + function + deformity (4) + rom, where flexion 19 and
# no other motion give 0.95 ROM points.
ACTIVITIES_3 = {
    "stairs": "unable",
    "shoes_socks": "unable",
    "sitting": "high_chair_half_hour",
    "public_transport": "unable",
}
ACTIVITIES_2 = {
    "stairs": "normal_with_railing",
    "shoes_socks": "unable",
    "sitting": "unable",
    "public_transport": "unable",
}
_CATEGORY_CASES = [
    ({"limp": "slight", "stairs": "normal_with_railing"}, 0, 90, "excellent"),  # 44 + 42 + 4
    ({"limp": "slight", "stairs": "any_manner"}, 19, Fraction(8995, 100), "good"),  # 44 + 41 + 4 + 0.95
    ({"pain": "slight", **ACTIVITIES_3}, 0, 80, "good"),  # 40 + 36 + 4
    ({"pain": "slight", **ACTIVITIES_2}, 19, Fraction(7995, 100), "fair"),  # 40 + 35 + 4 + 0.95
    ({"pain": "mild", **ACTIVITIES_3}, 0, 70, "fair"),  # 30 + 36 + 4
    ({"pain": "mild", **ACTIVITIES_2}, 19, Fraction(6995, 100), "poor"),  # 30 + 35 + 4 + 0.95
]


@pytest.mark.parametrize(("answers", "flexion", "total", "category"), _CATEGORY_CASES)
def test_category_floors_are_inclusive(answers, flexion, total, category):
    result = score("hhs", hhs(**{**NO_MOTION, "flexion_deg": flexion, **answers}))
    assert result.exact["total"] == total
    assert result.scores["category"] == category


def test_total_of_exactly_90_from_decimal_motion_is_excellent():
    # 44 + 41 + 4 + rom 1.0 from 19.5 + 0.5 degrees: exact arithmetic, not 89.99999999999999.
    answers = hhs(
        **{**NO_MOTION, "flexion_deg": 19.5, "adduction_deg": 2.5}, limp="slight", stairs="any_manner"
    )
    result = score("hhs", answers)
    assert result.exact["total"] == 90
    assert result.scores["category"] == "excellent"


@pytest.mark.parametrize(
    ("absent", "none_keys", "subscale"),
    [
        ("pain", {"pain", "total", "category"}, "pain"),
        ("limp", {"gait", "function", "total", "category"}, "gait"),
        ("sitting", {"activities", "function", "total", "category"}, "activities"),
        ("limb_length_discrepancy_cm", {"deformity", "total", "category"}, "deformity"),
        ("internal_rotation_deg", {"rom_index_sum", "rom", "total", "category"}, "rom"),
    ],
)
def test_a_missing_field_voids_its_component_and_the_total(absent, none_keys, subscale):
    result = score("hhs", {**hhs(), absent: None})
    assert {key for key, value in result.scores.items() if value is None} == none_keys
    assert result.missing[subscale] == 1
    assert sum(result.missing.values()) == 1


def test_trendelenburg_is_rejected_because_harris_does_not_score_it():
    with pytest.raises(ScoringError, match="trendelenburg"):
        score("hhs", hhs(trendelenburg="positive"))


def test_mhhs_of_the_best_hip_is_capped_at_100():
    scores = score("mhhs", BEST).scores
    assert scores == {"raw": 91, "mhhs": 100.0, "mhhs_uncapped": 100.1, "mhhs_100_over_91": 100.0}


def test_mhhs_multiplies_exactly():
    # 44 + 33 + 13 = 90: 90 x 1.1 is exactly 99, where floats give 99.00000000000001.
    result = score("mhhs", {**BEST, "public_transport": "unable"})
    assert result.scores["raw"] == 90
    assert result.scores["mhhs"] == 99.0
    assert result.scores["mhhs_uncapped"] == 99.0
    assert result.exact["mhhs_100_over_91"] == Fraction(9000, 91)


def test_mhhs_of_the_worst_hip_is_0():
    worst = {field: min(codes, key=codes.__getitem__) for field, codes in POINTS.items()}
    assert score("mhhs", worst).scores == {
        "raw": 0,
        "mhhs": 0.0,
        "mhhs_uncapped": 0.0,
        "mhhs_100_over_91": 0.0,
    }


def test_mhhs_with_a_missing_field_has_no_score():
    result = score("mhhs", {**BEST, "stairs": None})
    assert set(result.scores.values()) == {None}
    assert result.missing == {"pain": 0, "gait": 0, "activities": 1}


@pytest.mark.parametrize("field", [*NO_DEFORMITY, *NORMAL_ARCS])
def test_mhhs_rejects_deformity_and_motion_fields(field):
    with pytest.raises(ScoringError, match="clinician field"):
        score("mhhs", {**BEST, field: 0})
