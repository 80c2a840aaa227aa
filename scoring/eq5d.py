"""EQ-5D-5L index: the instrument as data, the six value sets and the scoring rule (SCORING-2.md, "EQ-5D-5L").

index = 1 - the decrement of each dimension's level - the constant where any level is above 1 (Japan, Korea) -
the extra term where any level is 4 or 5 (Korea). Every coefficient is kept as the decimal its source prints
(``Fraction("0.096")``), so an index is exact until the result is built; a state at 11111 is exactly 1.

Sources of the coefficients, how each set was checked, and its worst state (55555) against the published one
(published to three decimals; every exact value here rounds to it, five are equal to it):

- ``US``: Pickard AS et al., Value Health 2019;22(8):931-41, doi 10.1016/j.jval.2019.02.009. Transcribed from
  ``fragla/eq5d`` ``data-raw/VT.csv`` (column USA); all 20 cells equal in
  ``medizininformatik-initiative/kerndatensatzmodul-proms``
  ``input/fsh/definitions/eq-5d/mii-cs-pro-eq-5d-value-set.fsh`` (``en-us``). 55555 = -0.573 (published -0.573).
  UA4 and UA5 are both 0.255 in both sources (the model's, not a typing slip).
- ``DE``: Ludwig K et al., PharmacoEconomics 2018;36(6):663-74, doi 10.1007/s40273-018-0615-8. VT.csv (Germany);
  all 20 cells equal in the same MII file (``de-de``). 55555 = -0.661 (published -0.661).
- ``GB-ENG``: Devlin NJ et al., Health Econ 2018;27(1):7-22, doi 10.1002/hec.3564. VT.csv (England); all 20 cells
  equal in a public Python copy (``qualy_eq_5d_5l``, "United Kingdom", noted there as England's weights). 55555 =
  -0.285 (published -0.285). A public TypeScript copy ("Approximate Devlin 2018 UK coefficients") has the same 20
  cells but adds a constant of 0.0488, which Devlin 2018 does not have: with it 55555 would be -0.3338, not -0.285.
- ``JP``: Shiroiwa T et al., Value Health 2016;19(5):648-54, doi 10.1016/j.jval.2016.03.1834, the cTTO model.
  The six-decimal coefficients of the public R script "R functions for mapping EORTC QLQ-C30 onto EQ-5D-5L"
  (Hagiwara Y, University of Tokyo; ``tariff.jp.*``, which also states the worst state, ``index.jp.min <-
  -0.025449``); VT.csv (Japan_cTTO) prints the same 21 coefficients rounded to four decimals (all equal after
  rounding). 55555 = -0.025449 (published -0.025).
- ``KR``: Kim SH et al., Qual Life Res 2016;25(7):1845-52, doi 10.1007/s11136-015-1205-2. VT.csv (SouthKorea,
  with its Intercept 0.096 and N4 0.078); all 20 cells, the constant and N4 equal in a public Python script
  (``KR5``). 55555 = -0.066 (published -0.066).
- ``CN``: Luo N et al., Value Health 2017;20(4):662-9, doi 10.1016/j.jval.2016.11.016. VT.csv (China); all 20
  cells equal in a public R script (``coef_mult``). 55555 = -0.391 (published -0.391).

The three further copies (GB-ENG, KR, CN) were found by exact-string search of public code, whose index does not
name their repositories; they are corroboration, not the source.

Disagreement between sources (Japan): with VT.csv's four-decimal coefficients (constant 0.0609; level-5
decrements 0.2429, 0.1597, 0.1748, 0.1912, 0.196) 55555 is 1 - 0.0609 - 0.9646 = -0.0255 exactly, a tie that
rounds to -0.026 (half up or half even), not to the published -0.025. The six-decimal coefficients (constant
0.060924; 0.242916, 0.159659, 0.174786, 0.191203, 0.195961) give -0.025449, which rounds to -0.025: they are
used. Over all 3125 states the two versions differ by at most 0.000175. VT.csv's other Japanese column
(Japan_DCE, the same paper's DCE model) is not this value set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import TypeAlias, cast

from .definitions import AnswerOption, Instrument, Item, Output, Section, Subscale
from .errors import ScoringError

Value: TypeAlias = int | str | Fraction
Exact: TypeAlias = Fraction | int | str | None

#: The five dimensions in the order of the health-state code (e.g. "21345").
DIMENSIONS = ("MO", "SC", "UA", "PD", "AD")


@dataclass(frozen=True)
class Eq5d5lValueSet:
    """One country's EQ-5D-5L value set.

    ``decrements[dimension]`` is the decrement of levels 2-5 (level 1 is 0), as printed in the source, positive.
    ``constant`` is subtracted once when any dimension is above level 1 (0 where the model has none);
    ``level_4_or_5`` once when any dimension is at level 4 or 5 (Korea's N4; 0 elsewhere).
    """

    code: str
    name: str
    citation: str
    source: str
    decrements: Mapping[str, tuple[Fraction, Fraction, Fraction, Fraction]]
    constant: Fraction = Fraction(0)
    level_4_or_5: Fraction = Fraction(0)

    def index(self, levels: Mapping[str, int]) -> Fraction:
        """The exact index of a complete health state, levels 1-5 by dimension code."""
        state = [levels[dimension] for dimension in DIMENSIONS]
        total = Fraction(1)
        for dimension, level in zip(DIMENSIONS, state, strict=True):
            if level > 1:
                total -= self.decrements[dimension][level - 2]
        if any(level > 1 for level in state):
            total -= self.constant
        if any(level >= 4 for level in state):
            total -= self.level_4_or_5
        return total


def _set(
    code: str,
    name: str,
    citation: str,
    source: str,
    rows: Mapping[str, str],
    constant: str = "0",
    level_4_or_5: str = "0",
) -> Eq5d5lValueSet:
    """A value set from its printed decimals: one row of four decrements (levels 2-5) per dimension."""
    decrements: dict[str, tuple[Fraction, Fraction, Fraction, Fraction]] = {}
    for dimension in DIMENSIONS:
        cells = tuple(Fraction(cell) for cell in rows[dimension].split())
        assert len(cells) == 4, (code, dimension)
        decrements[dimension] = cells
    return Eq5d5lValueSet(
        code, name, citation, source, MappingProxyType(decrements), Fraction(constant), Fraction(level_4_or_5)
    )


_VT_CSV = "fragla/eq5d data-raw/VT.csv"
_MII = (
    "medizininformatik-initiative/kerndatensatzmodul-proms "
    "input/fsh/definitions/eq-5d/mii-cs-pro-eq-5d-value-set.fsh"
)

# Decrements of levels 2, 3, 4, 5 per dimension, transcribed cell by cell (see the module docstring).
_VALUE_SETS = (
    _set(
        "US",
        "United States",
        "Pickard AS, Law EH, Jiang R, et al. Value Health 2019;22(8):931-41. doi:10.1016/j.jval.2019.02.009",
        f"{_VT_CSV} (USA); equal to {_MII} (en-us)",
        {
            "MO": "0.096 0.122 0.237 0.322",
            "SC": "0.089 0.107 0.220 0.261",
            "UA": "0.068 0.101 0.255 0.255",
            "PD": "0.060 0.098 0.318 0.414",
            "AD": "0.057 0.123 0.299 0.321",
        },
    ),
    _set(
        "DE",
        "Germany",
        "Ludwig K, Graf von der Schulenburg JM, Greiner W. PharmacoEconomics 2018;36(6):663-74. "
        "doi:10.1007/s40273-018-0615-8",
        f"{_VT_CSV} (Germany); equal to {_MII} (de-de)",
        {
            "MO": "0.026 0.042 0.139 0.224",
            "SC": "0.050 0.056 0.169 0.260",
            "UA": "0.036 0.049 0.129 0.209",
            "PD": "0.057 0.109 0.404 0.612",
            "AD": "0.030 0.082 0.244 0.356",
        },
    ),
    _set(
        "GB-ENG",
        "England",
        "Devlin NJ, Shah KK, Feng Y, Mulhern B, van Hout B. Health Econ 2018;27(1):7-22. doi:10.1002/hec.3564",
        f"{_VT_CSV} (England)",
        {
            "MO": "0.058 0.076 0.207 0.274",
            "SC": "0.050 0.080 0.164 0.203",
            "UA": "0.050 0.063 0.162 0.184",
            "PD": "0.063 0.084 0.276 0.335",
            "AD": "0.078 0.104 0.285 0.289",
        },
    ),
    _set(
        "JP",
        "Japan",
        "Shiroiwa T, Ikeda S, Noto S, et al. Value Health 2016;19(5):648-54. doi:10.1016/j.jval.2016.03.1834 "
        "(cTTO model)",
        "six-decimal coefficients of the Japanese value set in Hagiwara Y, R functions for mapping EORTC QLQ-C30 "
        f"onto EQ-5D-5L (University of Tokyo); {_VT_CSV} (Japan_cTTO) has them rounded to four decimals",
        {
            "MO": "0.063865 0.112618 0.179043 0.242916",
            "SC": "0.043632 0.076660 0.124265 0.159659",
            "UA": "0.050407 0.091131 0.147929 0.174786",
            "PD": "0.044545 0.068178 0.131436 0.191203",
            "AD": "0.071779 0.110496 0.168171 0.195961",
        },
        constant="0.060924",
    ),
    _set(
        "KR",
        "South Korea",
        "Kim SH, Ahn J, Ock M, et al. Qual Life Res 2016;25(7):1845-52. doi:10.1007/s11136-015-1205-2",
        f"{_VT_CSV} (SouthKorea; Intercept and N4)",
        {
            "MO": "0.046 0.058 0.133 0.251",
            "SC": "0.032 0.050 0.078 0.122",
            "UA": "0.021 0.051 0.100 0.175",
            "PD": "0.042 0.053 0.166 0.207",
            "AD": "0.033 0.046 0.102 0.137",
        },
        constant="0.096",
        level_4_or_5="0.078",
    ),
    _set(
        "CN",
        "China",
        "Luo N, Liu G, Li M, Guan H, Jin X, Rand-Hendriksen K. Value Health 2017;20(4):662-9. "
        "doi:10.1016/j.jval.2016.11.016",
        f"{_VT_CSV} (China)",
        {
            "MO": "0.066 0.158 0.287 0.345",
            "SC": "0.048 0.116 0.210 0.253",
            "UA": "0.045 0.107 0.194 0.233",
            "PD": "0.058 0.138 0.252 0.302",
            "AD": "0.049 0.118 0.215 0.258",
        },
    ),
)

#: The value sets ``score("eq5d5l", answers, value_set=CODE)`` takes, by code (SCORING-2.md).
VALUE_SETS: Mapping[str, Eq5d5lValueSet] = MappingProxyType({vs.code: vs for vs in _VALUE_SETS})
_WORST = {code: vs.index(dict.fromkeys(DIMENSIONS, 5)) for code, vs in VALUE_SETS.items()}

# --- the instrument -------------------------------------------------------------------------------
_LEVELS = (
    "level 1: no problems",
    "level 2: slight",
    "level 3: moderate",
    "level 4: severe",
    "level 5: extreme",
)
_DIMENSION_LABELS = {
    "MO": "mobility (walking about)",
    "SC": "self-care (washing or dressing)",
    "UA": "usual activities (work, study, housework, family or leisure)",
    "PD": "pain or discomfort",
    "AD": "anxiety or depression",
}
_EQ5D_ITEMS = tuple(
    Item(
        code,
        "eq5d5l",
        order,
        _DIMENSION_LABELS[code],
        "choice",
        tuple(AnswerOption(level, label) for level, label in enumerate(_LEVELS, start=1)),
    )
    for order, code in enumerate(DIMENSIONS, start=1)
)

EQ5D5L = Instrument(
    id="eq5d5l",
    name="EQ-5D-5L index",
    version="EQ-5D-5L descriptive system",
    recall_period="today",
    licence=(
        "Licensed: copyright the EuroQol Research Foundation. A site registers with the EuroQol Group to use "
        "the questionnaire and its wording; the registry ships the scoring and its own content labels only."
    ),
    loinc_panel=None,
    scoring_source=(
        "index = 1 - decrement of each dimension's level - the constant where any level is above 1 (JP, KR) - "
        "the term where any level is 4 or 5 (KR), with the value set the site chooses: "
        + "; ".join(f"{vs.code}: {vs.citation} (from {vs.source})" for vs in _VALUE_SETS)
        + ". Any dimension missing: no index (registry choice, SCORING-2.md)."
    ),
    items=_EQ5D_ITEMS,
    subscales=(Subscale("index", "EQ-5D-5L descriptive system", DIMENSIONS, max_missing=0),),
    sections=(Section("eq5d5l", "EQ-5D-5L descriptive system", DIMENSIONS),),
    outputs=(
        Output(
            "index",
            "EQ-5D-5L index, in the value set given (1 = full health, 0 = dead, below 0 = worse than dead; "
            f"lowest {float(min(_WORST.values()))} in the value set {min(_WORST, key=_WORST.__getitem__)})",
            float(min(_WORST.values())),
            1,
            "higher_better",
        ),
    ),
    label_note=(
        "Dimensions and levels are shown with the registry's short content labels, not the EQ-5D wording, which "
        "is licensed: a site that holds a licence loads it with scoring.load_wording."
    ),
    notes=(
        "The index depends on the value set: store the value set with every index, and never compare indices "
        "computed with different sets. The EQ VAS is a separate instrument, not an input here.",
    ),
    value_sets=tuple(VALUE_SETS),
)


def eq5d5l_index(levels: Mapping[str, int], value_set: str) -> Fraction:
    """The exact index of a complete state (levels 1-5 by ``MO`` ... ``AD``) in a value set, by its code."""
    try:
        chosen = VALUE_SETS[value_set]
    except (KeyError, TypeError):
        raise ScoringError(
            f"eq5d5l: unknown value set {value_set!r}; known: {', '.join(VALUE_SETS)}"
        ) from None
    return chosen.index(levels)


def score_eq5d5l(
    instrument: Instrument, values: dict[str, Value], value_set: str
) -> tuple[dict[str, Exact], dict[str, int]]:
    """EQ-5D-5L index in the given value set; any dimension missing -> ``None`` (SCORING-2.md)."""
    (subscale,) = instrument.subscales
    missing = sum(code not in values for code in subscale.item_codes)
    index = None
    if missing == 0:
        index = VALUE_SETS[value_set].index({code: cast(int, values[code]) for code in subscale.item_codes})
    return {"index": index}, {subscale.code: missing}
