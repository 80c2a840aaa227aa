"""Serializers of the research API.

Row serializers are generated from the column lists of research.deid, so JSON, CSV, the OpenAPI schema
and the data dictionary name the same columns in the same order. Their `to_representation` is a plain dict
build (the rows are already plain values from `values()`): field-by-field DRF conversion costs tens of
microseconds per value, which matters at 10,000 rows a page. The declared fields are what the schema shows.

Summary responses are built by research.summaries; the serializers below describe their shape for the
schema and validate the summary parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from rest_framework import serializers

import scoring
from outcomes.models import Timepoint
from research import deid
from research.deid import Column
from research.summaries import GROUPS
from research.summaries.survival import DEFAULT_KM_DAYS


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _field(column: Column) -> serializers.Field:
    options = {"read_only": True, "allow_null": True, "help_text": column.description}
    if column.choices:
        return serializers.ChoiceField(choices=list(column.choices), **options)
    return {
        "string": serializers.CharField,
        "integer": serializers.IntegerField,
        "number": serializers.FloatField,
        "boolean": serializers.BooleanField,
    }[column.kind](**options)


class RowSerializer(serializers.Serializer):
    columns: Sequence[Column] = ()

    def to_representation(self, row: dict[str, Any]) -> dict[str, Any]:
        return {c.name: _plain(row[c.alias]) for c in self.columns}


def row_serializer(name: str, columns: Sequence[Column], **extra: Any) -> type[RowSerializer]:
    attrs: dict[str, Any] = {c.name: _field(c) for c in columns}
    attrs.update(extra)
    attrs["columns"] = tuple(columns)
    attrs["__module__"] = __name__
    return type(name, (RowSerializer,), attrs)


# The administrations nested in a treatment: the administration's own columns (the episode's are on the row).
NESTED_ADMINISTRATION_COLUMNS = deid.ADMINISTRATIONS.columns[
    [c.name for c in deid.ADMINISTRATIONS.columns].index("day") :
]
NestedAdministrationSerializer = row_serializer("NestedAdministration", NESTED_ADMINISTRATION_COLUMNS)


class TreatmentSerializer(row_serializer("TreatmentBase", deid.TREATMENTS.columns)):
    administrations = NestedAdministrationSerializer(many=True, read_only=True)

    def to_representation(self, row: dict[str, Any]) -> dict[str, Any]:
        data = super().to_representation(row)
        data["administrations"] = [NestedAdministrationSerializer(a).data for a in row.get("administrations", [])]
        return data


AdministrationSerializer = row_serializer("Administration", deid.ADMINISTRATIONS.columns)
ScoreSerializer = row_serializer("Score", deid.SCORES.columns)
AdverseEventSerializer = row_serializer("AdverseEvent", deid.ADVERSE_EVENTS.columns)
SurgerySerializer = row_serializer("Surgery", deid.SURGERIES.columns)
# For the schema: every possible score column; a response has those of the chosen instruments and keys.
WideScoreSerializer = row_serializer("WideScore", [*deid.WIDE_FIXED, *deid.wide_score_columns()])


def wide_serializer(score_columns: Sequence[Column]) -> type[RowSerializer]:
    return row_serializer("WideScoreRow", [*deid.WIDE_FIXED, *score_columns])


# Summaries: parameters ------------------------------------------------------------------------------------


class MultipleChoiceQuery(serializers.MultipleChoiceField):
    """Repeated or comma-separated query values."""

    def get_value(self, dictionary: Any) -> Any:
        if self.field_name not in dictionary:
            return serializers.empty
        values = []
        for raw in dictionary.getlist(self.field_name):
            values += [v for v in raw.split(",") if v]
        return values

    def to_internal_value(self, data: Any) -> list[str]:
        seen = super().to_internal_value(data)
        return [v for v in self.choices if v in seen]  # the documented order, not the request's


# Every numeric (summarisable) output key of any instrument; which belong to which instrument is checked below.
NUMERIC_SCORE_KEYS = sorted({o.key for i in scoring.INSTRUMENTS.values() for o in i.outputs if o.kind != "category"})
# A whole number from 0 to 36500, then up to 49 more, comma-separated (what validate_days accepts, as a pattern
# the OpenAPI schema can state).
_DAY = r"(?:36500|36[0-4][0-9]{2}|3[0-5][0-9]{3}|[0-2][0-9]{4}|[0-9]{1,4})"
DAYS_PATTERN = rf"^{_DAY}(?:,{_DAY}){{0,49}}$"


class ScoreSummaryQuerySerializer(serializers.Serializer):
    instrument = serializers.ChoiceField(choices=list(scoring.INSTRUMENTS), help_text="Instrument.")
    key = serializers.ChoiceField(
        choices=NUMERIC_SCORE_KEYS,
        help_text="Numeric score key of the instrument, e.g. pain: one of the instrument's numeric outputs "
        "(/api/v1/dictionary/ lists them; another instrument's key is a 400).",
    )
    group_by = MultipleChoiceQuery(choices=list(GROUPS), required=False, help_text="Group by (several allowed).")
    timepoint = MultipleChoiceQuery(
        choices=list(Timepoint.values), required=False, help_text="Timepoints to report (default all)."
    )
    mcii_kind = serializers.ChoiceField(
        choices=["absolute", "relative"],
        default="absolute",
        help_text="MCII definition: absolute (points) or relative (% of baseline) where published.",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        output = next((o for o in scoring.INSTRUMENTS[data["instrument"]].outputs if o.key == data["key"]), None)
        if output is None:
            keys = ", ".join(scoring.INSTRUMENTS[data["instrument"]].output_keys)
            raise serializers.ValidationError(
                {"key": f"{data['key']!r} is not a key of {data['instrument']} ({keys})."}
            )
        if output.kind == "category":
            raise serializers.ValidationError({"key": f"{data['key']!r} is a category; choose a numeric score."})
        return data


class ArthroplastySummaryQuerySerializer(serializers.Serializer):
    group_by = MultipleChoiceQuery(choices=list(GROUPS), required=False, help_text="Group by (several allowed).")
    days = serializers.RegexField(
        DAYS_PATTERN,
        required=False,
        help_text="Days from index for the table: 1-50 whole numbers from 0 to 36500, comma-separated (default "
        f"{','.join(map(str, DEFAULT_KM_DAYS))}).",
        error_messages={"invalid": "days must be 1-50 whole numbers between 0 and 36500, comma-separated."},
    )
    censoring = serializers.ChoiceField(
        choices=["last_contact", "administrative"],
        default="last_contact",
        help_text="Censor at the last day the registry knows of the episode (default) or at today.",
    )

    def validate_days(self, value: str) -> list[int]:
        try:
            days = sorted({int(v) for v in value.split(",") if v.strip()})
        except ValueError:
            raise serializers.ValidationError("days must be whole numbers, comma-separated.") from None
        if not days or days[0] < 0 or days[-1] > 36500 or len(days) > 50:
            raise serializers.ValidationError("days must be 1-50 whole numbers between 0 and 36500.")
        return days


# Summaries: response shapes (for the schema) --------------------------------------------------------------


class _Suppressible(serializers.Serializer):
    suppressed = serializers.BooleanField(help_text="True when the numbers are withheld.")
    suppression = serializers.CharField(allow_null=True, help_text="Why: primary (small cell) or secondary.")
    n = serializers.IntegerField(allow_null=True, help_text="Episodes.")
    n_subjects = serializers.IntegerField(allow_null=True, help_text="Distinct subjects.")


class LevelSerializer(_Suppressible):
    mean = serializers.FloatField(allow_null=True)
    sd = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True, help_text="95% CI (t distribution), lower bound.")
    ci_high = serializers.FloatField(allow_null=True, help_text="95% CI (t distribution), upper bound.")


class ShareSerializer(_Suppressible):
    share = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True, help_text="95% Wilson interval, lower bound.")
    ci_high = serializers.FloatField(allow_null=True, help_text="95% Wilson interval, upper bound.")


class MciiCellSerializer(ShareSerializer):
    reached = serializers.IntegerField(allow_null=True)
    n_without_threshold = serializers.IntegerField(allow_null=True)
    threshold_joints = serializers.ListField(child=serializers.CharField())


class ResponderCellSerializer(ShareSerializer):
    responders = serializers.IntegerField(allow_null=True)
    n_indeterminate = serializers.IntegerField(allow_null=True, help_text="Decided by the (unrecorded) global.")
    share_lower_bound = serializers.FloatField(allow_null=True, help_text="Indeterminate counted as non-responders.")
    share_upper_bound = serializers.FloatField(allow_null=True, help_text="Indeterminate counted as responders.")


class TimepointSummarySerializer(serializers.Serializer):
    timepoint = serializers.ChoiceField(choices=list(Timepoint.values))
    level = LevelSerializer()
    change = LevelSerializer(allow_null=True, help_text="Follow-up minus baseline, complete pairs.")
    mcii = MciiCellSerializer(allow_null=True)
    omeract_oarsi = ResponderCellSerializer(allow_null=True)


class ScoreGroupSerializer(serializers.Serializer):
    group = serializers.DictField(
        help_text='The group\'s values, e.g. {"product_type": "bmac"}; empty for the overall row.'
    )
    timepoints = TimepointSummarySerializer(many=True)


class ThresholdSerializer(serializers.Serializer):
    joint = serializers.CharField()
    value = serializers.FloatField()
    signed_value = serializers.FloatField()
    kind = serializers.CharField()
    better = serializers.CharField()
    population = serializers.CharField()
    citation = serializers.CharField()


class MciiInfoSerializer(serializers.Serializer):
    kind = serializers.CharField()
    thresholds = ThresholdSerializer(many=True)
    note = serializers.CharField(allow_null=True)


class ResponderInfoSerializer(serializers.Serializer):
    applicable = serializers.BooleanField()
    inputs = serializers.CharField(allow_null=True)
    citation = serializers.CharField()


class DisclosureControlSerializer(serializers.Serializer):
    method = serializers.CharField(help_text="Cell-key perturbation for a summary-tier key; none for a rows key.")
    max_perturbation = serializers.IntegerField(required=False, help_text="D: counts move by at most this.")
    variance = serializers.FloatField(required=False, help_text="V: the perturbations' variance.")
    means = serializers.CharField(required=False)
    note = serializers.CharField(required=False)


class ScoreSummarySerializer(serializers.Serializer):
    instrument = serializers.CharField()
    instrument_name = serializers.CharField()
    key = serializers.CharField()
    label = serializers.CharField()
    direction = serializers.CharField()
    range = serializers.ListField(child=serializers.FloatField(allow_null=True))
    group_by = serializers.ListField(child=serializers.CharField())
    min_cell_size = serializers.IntegerField()
    disclosure_control = DisclosureControlSerializer()
    unit_of_analysis = serializers.CharField()
    mcii = MciiInfoSerializer()
    omeract_oarsi = ResponderInfoSerializer()
    methods = serializers.ListField(child=serializers.CharField())
    groups = ScoreGroupSerializer(many=True)
    overall = ScoreGroupSerializer(allow_null=True)


class KmRowSerializer(serializers.Serializer):
    day = serializers.IntegerField()
    n_at_risk = serializers.IntegerField(allow_null=True)
    cumulative_events = serializers.IntegerField(allow_null=True)
    survival = serializers.FloatField(allow_null=True, help_text="Share free of arthroplasty.")
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    suppressed = serializers.BooleanField()


class KmStepSerializer(serializers.Serializer):
    day = serializers.IntegerField()
    survival = serializers.FloatField()
    ci_low = serializers.FloatField()
    ci_high = serializers.FloatField()
    n_at_risk = serializers.IntegerField()


class KmGroupSerializer(_Suppressible):
    group = serializers.DictField()
    n_events = serializers.IntegerField(allow_null=True)
    median_days = serializers.IntegerField(allow_null=True, help_text="Median time to arthroplasty, if reached.")
    table = KmRowSerializer(many=True, allow_null=True)
    curve = KmStepSerializer(many=True, allow_null=True)
    curve_truncated_after_day = serializers.IntegerField(allow_null=True)


class ArthroplastySummarySerializer(serializers.Serializer):
    event = serializers.CharField()
    time_origin = serializers.CharField()
    censoring = serializers.CharField()
    excluded = serializers.CharField()
    group_by = serializers.ListField(child=serializers.CharField())
    days = serializers.ListField(child=serializers.IntegerField())
    min_cell_size = serializers.IntegerField()
    disclosure_control = DisclosureControlSerializer()
    methods = serializers.ListField(child=serializers.CharField())
    groups = KmGroupSerializer(many=True)
    overall = KmGroupSerializer(allow_null=True)
