"""Scores in words, for staff: each score with its instrument and scale in plain language, its range and which
end is good, grouped by instrument, with the change since baseline and whether it reaches the MCII, and whether
the score is in the patient acceptable symptom state where a PASS is published for it.

The score keys (``koos4_kanon``, ``function_0_100_inv``) stay in the research API and the data dictionary;
people read the names here. Alternative forms of a score (raw sums, inverted or uncapped variants) are kept
apart as "other forms", so one KOOS reads as a handful of lines rather than twenty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.utils.translation import gettext, gettext_lazy, pgettext

import scoring
from outcomes.engine_words import staff
from outcomes.models import FollowUp, Score, Timepoint
from scoring.eq5d import VALUE_SETS

DERIVED_NOTE = {
    "womac_from_koos": gettext_lazy("WOMAC scored from the KOOS answers (the patient answered once)"),
    "womac_from_hoos": gettext_lazy("WOMAC scored from the HOOS answers (the patient answered once)"),
    "koos_jr_from_koos": gettext_lazy("KOOS JR scored from the KOOS answers (the patient answered once)"),
    "koos12_from_koos": gettext_lazy("KOOS-12 scored from the KOOS answers (the patient answered once)"),
    "hoos_jr_from_hoos": gettext_lazy("HOOS JR scored from the HOOS answers (the patient answered once)"),
    "hhs": gettext_lazy("Harris Hip Score: the patient's answers with the clinician's examination"),
}
# Output keys read as alternative forms of a headline score (see the module docstring).
_OTHER_FORM = re.compile(r"^raw$|_inv$|uncapped|_over_|index_sum|^answered$")
_RAW_WOMAC = {"womac", "womac_from_koos", "womac_from_hoos"}


@dataclass
class ScoreLine:
    key: str
    name: str
    value: str
    direction: str
    change: str = ""
    mcii: str = ""
    mcii_reached: bool | None = None
    improved: bool | None = None
    pass_state: str = ""
    pass_reached: bool | None = None
    scored: bool = True


@dataclass
class ScoreGroup:
    instrument: str
    title: str
    note: str
    lines: list[ScoreLine] = field(default_factory=list)
    other: list[ScoreLine] = field(default_factory=list)


def plain_name(label: str) -> str:
    """'KOOS pain (0-100, 100 = no problems)' -> 'KOOS pain'; 'mHHS: raw x 1.1, capped at 100 (...)' kept whole
    but for the range, which the value shows."""
    return re.sub(r"\s*\([^()]*\)\s*$", "", label).strip()


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"


def _direction(output: scoring.Output) -> str:
    if output.direction == "higher_better":
        return gettext("higher is better")
    if output.direction == "higher_worse":
        return gettext("lower is better")
    return ""


def _is_other(instrument: str, key: str) -> bool:
    if instrument in _RAW_WOMAC and not key.endswith("_0_100"):
        return True  # WOMAC reads as its 0-100 scores (100 = worst); raw sums and inverted forms are other forms
    return bool(_OTHER_FORM.search(key))


def groups_for(
    fu: FollowUp, scores: list[Score] | None = None, baseline: list[Score] | None = None
) -> list[ScoreGroup]:
    """The follow-up's scores in words, instrument by instrument, in the order the plan asks them."""
    scores = list(fu.scores.all()) if scores is None else scores
    if baseline is None:
        baseline = []
        if fu.timepoint != Timepoint.BASELINE:
            baseline = list(Score.objects.filter(episode_id=fu.episode_id, timepoint=Timepoint.BASELINE))
    before = {(s.instrument, s.key): s for s in baseline}
    joint = fu.episode.joint
    by_instrument: dict[str, dict[str, Score]] = {}
    for s in scores:
        by_instrument.setdefault(s.instrument, {})[s.key] = s
    order = {i: n for n, i in enumerate(fu.instruments)}
    engine_order = {i: n for n, i in enumerate(scoring.INSTRUMENTS)}

    def place(instrument: str) -> tuple:
        # A derived instrument follows the one it is derived from, in the engine's order (WOMAC, KOOS JR, ...).
        parent = scoring.INSTRUMENTS[instrument].derived_from if instrument in scoring.INSTRUMENTS else None
        asked = parent or instrument
        return (order.get(asked, len(order)), asked, engine_order.get(instrument, len(engine_order)), instrument)

    out = []
    for instrument in sorted(by_instrument, key=place):
        definition = scoring.get_instrument(instrument)
        group = ScoreGroup(instrument, staff(definition.name), str(DERIVED_NOTE.get(instrument, "")))
        stored = by_instrument[instrument]
        value_set = stored.get("value_set")
        if instrument == "eq5d5l" and value_set is not None:
            # The index is read in its value set; none at the site: the index waits for the site to choose one.
            code = value_set.value_text
            group.note = (
                gettext("Index in the %(code)s value set (%(name)s)")
                % {"code": code, "name": staff(VALUE_SETS[code].name)}
                if code in VALUE_SETS
                else gettext("No index: the site has no EQ-5D-5L value set (choose one in its follow-up settings)")
            )
        for output in definition.outputs:
            row = stored.get(output.key)
            if row is None:
                continue
            line = _line(instrument, output, row, before.get((instrument, output.key)), joint)
            (group.other if _is_other(instrument, output.key) else group.lines).append(line)
        if not group.lines:
            group.lines, group.other = group.other, []
        out.append(group)
    return out


def _line(instrument: str, output: scoring.Output, row: Score, base: Score | None, joint: str) -> ScoreLine:
    line = ScoreLine(key=output.key, name=staff(plain_name(output.label)), value="", direction=_direction(output))
    if row.value_text:
        line.value = row.value_text
        return line
    if row.value is None:
        line.value = gettext("not scored (too many items blank)")
        line.scored = False
        return line
    top = output.max
    line.value = (
        gettext("%(value)s of %(top)s") % {"value": _number(row.value), "top": _number(top)}
        if top is not None
        else _number(row.value)
    )
    if output.unit == "%":
        line.value += " %"
    _acceptable_state(line, instrument, output.key, joint, row.value)
    if base is None or base.value is None or output.direction == "none":
        return line
    change = row.value - base.value
    better = change > 0 if output.direction == "higher_better" else change < 0
    line.improved = None if change == 0 else better
    if change == 0:
        line.change = gettext("no change since baseline")
    elif better:
        line.change = gettext("%(change)s since baseline (better)") % {"change": f"{change:+.1f}"}
    else:
        line.change = gettext("%(change)s since baseline (worse)") % {"change": f"{change:+.1f}"}
    try:
        result = scoring.mcii_change(instrument, output.key, joint, base.value, row.value)
    except (scoring.ScoringError, ValueError):
        return line
    if result.reached is not None and result.threshold is not None:
        t = result.threshold
        if t.kind == "absolute":
            size = gettext("%(n)s points") % {"n": _number(float(t.value))}
        else:
            size = gettext("%(n)s %% of baseline") % {"n": _number(float(t.value))}
        line.mcii_reached = result.reached
        line.mcii = (
            gettext("reaches the MCII (%(size)s)") % {"size": size}
            if result.reached
            else gettext("short of the MCII (%(size)s)") % {"size": size}
        )
    return line


def _acceptable_state(line: ScoreLine, instrument: str, key: str, joint: str, value: float) -> None:
    """Whether the score is in the patient acceptable symptom state, where a PASS is published for it at this
    joint (scoring.pass_reached: inclusive), with the threshold's bound."""
    try:
        result = scoring.pass_reached(instrument, key, joint, value)
    except (scoring.ScoringError, ValueError):
        return
    if result.reached is None or result.threshold is None:
        return
    limit = _number(float(result.threshold.value))
    bound = (
        pgettext("PASS bound", "%(n)s or more") % {"n": limit}
        if result.threshold.better == "higher"
        else pgettext("PASS bound", "%(n)s or less") % {"n": limit}
    )
    line.pass_reached = result.reached
    line.pass_state = (
        gettext("acceptable symptom state (PASS %(bound)s)") % {"bound": bound}
        if result.reached
        else gettext("short of the acceptable symptom state (PASS %(bound)s)") % {"bound": bound}
    )
