"""Filters of the research API (django-filter), strict: an unknown parameter or an invalid value is a 400 that
says why, never silently ignored.

Every filter targets a released column (its alias in research.deid), so a filter means exactly what
the column says: `product_type` is the episode's first administration's product on the episode-level datasets
and the administration's own on /administrations/. Several values of one filter are OR-ed (`kl_grade=2&kl_grade=3`
or `kl_grade=2,3`); different filters are AND-ed.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

import scoring
from outcomes.models import Timepoint, stored_outputs
from registry.models import CellSource, Joint, ProductType, Side, Site
from research.deid import ALIAS_PREFIX

# Parameters that are not filters but are understood by every list: pagination and the format.
COMMON_PARAMETERS = {"cursor", "page_size", "format"}
SCORE_KEYS = sorted({o.key for i in scoring.INSTRUMENTS for o in stored_outputs(i)})


def _c(name: str) -> str:
    return ALIAS_PREFIX + name


class ManyWidget(forms.SelectMultiple):
    """Values as repeated parameters (`k=2&k=3`), comma-separated (`k=2,3`) or both; blanks are dropped."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str]:
        raw = [*data.getlist(name), *data.getlist(f"{name}[]")] if hasattr(data, "getlist") else [data.get(name, "")]
        values = [v.strip() for item in raw if item for v in str(item).split(",") if v.strip()]
        return list(dict.fromkeys(values))

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return name not in data and f"{name}[]" not in data


class Many(django_filters.MultipleChoiceFilter):
    """Several values, OR-ed: repeated parameters or comma-separated."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", ManyWidget)
        super().__init__(*args, **kwargs)


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class EpisodeFilterSet(django_filters.FilterSet):
    """Filters on the episode's covariates: every research list and both summaries take them."""

    joint = Many(field_name=_c("joint"), choices=Joint.choices, help_text="Treated joint (several allowed).")
    side = Many(field_name=_c("side"), choices=Side.choices, help_text="Side (several allowed).")
    product_type = Many(
        field_name=_c("product_type"),
        choices=ProductType.choices,
        help_text="Product of the first administration (on /administrations/: of the administration).",
    )
    source = Many(field_name=_c("source"), choices=CellSource.choices, help_text="Autologous, allogeneic or na.")
    dose_min = django_filters.NumberFilter(
        field_name=_c("cell_dose_millions"), lookup_expr="gte", help_text="Cell dose at least (million cells)."
    )
    dose_max = django_filters.NumberFilter(
        field_name=_c("cell_dose_millions"), lookup_expr="lte", help_text="Cell dose at most (million cells)."
    )
    kl_grade = Many(
        field_name=_c("kl_grade"),
        choices=[(str(g), str(g)) for g in range(5)],
        help_text="Kellgren-Lawrence grade 0-4 (several allowed).",
    )
    site = Many(field_name=_c("site"), choices=[], help_text="Site code (several allowed); only the key's sites.")
    # Bounded: a year outside dates' range would fail inside the database instead of as a 400.
    index_year_min = IntegerFilter(
        field_name=_c("index_year"),
        lookup_expr="gte",
        min_value=1900,
        max_value=2200,
        help_text="Index year from (1900-2200).",
    )
    index_year_max = IntegerFilter(
        field_name=_c("index_year"),
        lookup_expr="lte",
        min_value=1900,
        max_value=2200,
        help_text="Index year to (1900-2200).",
    )

    RANGES = [("dose_min", "dose_max"), ("index_year_min", "index_year_max")]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A key may filter on its own sites only; another site's code is "not one of the available choices",
        # whether or not it exists.
        key = getattr(self.request, "auth", None)
        codes = list(Site.objects.filter(api_keys=key).values_list("code", flat=True)) if key is not None else []
        site = self.filters["site"]
        site.extra["choices"] = [(code, code) for code in sorted(codes)]
        # django-filter caches the built form field on the filter; one built earlier (e.g. by the schema
        # generator, from the class's filter) would carry another key's choices into this request.
        site.__dict__.pop("_field", None)

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if valid:
            data = self.form.cleaned_data
            for low, high in self.RANGES:
                if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                    self.form.add_error(high, f"{high} must not be less than {low}.")
                    valid = False
        return valid


class ScoreFilterSet(EpisodeFilterSet):
    timepoint = Many(field_name=_c("timepoint"), choices=Timepoint.choices, help_text="Timepoint (several allowed).")
    instrument = Many(
        field_name=_c("instrument"),
        choices=[(i, d.name) for i, d in scoring.INSTRUMENTS.items()],
        help_text="Instrument (several allowed); see /api/v1/dictionary/.",
    )
    key = Many(
        field_name=_c("key"),
        choices=[(k, k) for k in SCORE_KEYS],
        help_text="Score key (several allowed); each must be an output of a chosen instrument.",
    )

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if valid:
            instruments = self.form.cleaned_data.get("instrument") or list(scoring.INSTRUMENTS)
            known = {o.key for i in instruments for o in stored_outputs(i)}
            for key in self.form.cleaned_data.get("key") or []:
                if key not in known:
                    self.form.add_error("key", f"{key!r} is not a score key of {', '.join(instruments)}.")
                    valid = False
        return valid


def reject_unknown_parameters(request: Any, allowed: set[str]) -> None:
    """400 naming every query parameter the endpoint does not know (a misspelt filter would otherwise return
    everything)."""
    given = {name.removesuffix("[]") for name in request.query_params}
    unknown = sorted(given - allowed)
    if unknown:
        raise ValidationError(
            {
                "unknown_parameters": [f"{name!r} is not a parameter of this endpoint." for name in unknown],
                "allowed_parameters": sorted(allowed),
            }
        )


class StrictFilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend that refuses unknown parameters; invalid values are refused by django-filter (400)."""

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset_class = self.get_filterset_class(view, queryset)
        allowed = set(COMMON_PARAMETERS) | set(getattr(view, "extra_parameters", ()))
        if filterset_class is not None:
            allowed |= set(filterset_class.base_filters)
        reject_unknown_parameters(request, allowed)
        return super().filter_queryset(request, queryset, view)
