"""Questionnaire forms generated from the scoring engine's instrument definitions, never re-typed.

Each item becomes a labelled field (choices as radio buttons, VAS as a number 0-100 with one decimal), grouped
in the instrument's printed sections. Items show the site's validated wording when it has loaded one for the
instrument and language, else the registry's short content labels; the form says which.

`InstrumentForm` is the questionnaire as both the patient pages (outcomes.patient_views) and staff entry ask it;
`EntryForm` is staff entry's (outcomes.admin): the same items, with a reason for every blank, the date and mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

import scoring
from outcomes.asking import items_asked  # noqa: F401  (one definition, shared with the patient pages)
from outcomes.engine_words import staff
from outcomes.models import HHS_EXAM, FollowUp, MissingCode, Mode


def definition_for(instrument: str) -> scoring.Instrument:
    return scoring.get_instrument("hhs" if instrument == HHS_EXAM else instrument)


def _coerce_choice(item: scoring.Item):
    if item.options and isinstance(item.options[0].value, int):
        return int
    return str


class InstrumentForm(forms.Form):
    """One instrument's items. `answers()` gives the mapping the scoring engine takes."""

    def __init__(
        self,
        *args: Any,
        instrument: str,
        wording: scoring.Wording | None = None,
        require_all: bool = False,
        only: tuple[str, ...] | None = None,
        for_patient: bool = False,
        **kwargs: Any,
    ) -> None:
        """`only`: the item codes asked on this page (a long instrument is asked a section a page)."""
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        self.definition = definition_for(instrument)
        self.wording = wording
        self.label_source = scoring.LABEL_SOURCE_WORDING if wording else scoring.LABEL_SOURCE_CONTENT
        self.item_fields: dict[str, str] = {}
        scored_as = self.definition.id
        for item in items_asked(instrument):
            if only is not None and item.code not in only:
                continue
            text, _source = scoring.item_text(scored_as, item.code, wording)
            name = f"item_{item.code}"
            if item.kind == "choice":
                options, _ = scoring.option_labels(scored_as, item.code, wording)
                field: forms.Field = forms.TypedChoiceField(
                    label=text,
                    choices=[(str(v), label) for v, label in options],
                    coerce=_coerce_choice(item),
                    required=require_all,
                    widget=forms.RadioSelect,
                    empty_value=None,
                )
            elif item.kind == "decimal":
                field = forms.DecimalField(
                    label=text,
                    min_value=Decimal(item.min or 0),
                    max_value=Decimal(item.max or 0),
                    decimal_places=1,
                    required=require_all,
                    help_text=f"{item.min}-{item.max} {item.unit or ''}".strip(),
                    widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
                )
            else:
                field = forms.IntegerField(
                    label=text,
                    min_value=item.min,
                    max_value=item.max,
                    required=require_all,
                    help_text=f"{item.min}-{item.max} {item.unit or ''}".strip(),
                )
            if require_all:
                field.error_messages["required"] = gettext("Please answer this question.")
            field.item_code = item.code  # type: ignore[attr-defined]
            anchors = dict(wording.items[item.code].anchors) if wording else {}
            field.anchors = anchors  # type: ignore[attr-defined]
            if for_patient and item.kind != "choice":
                # Patients type the number; the slider the page adds starts with no value chosen.
                field.help_text = ""
                plain = gettext("Please give a number from %(min)s to %(max)s.") % {
                    "min": f"{item.min:g}",
                    "max": f"{item.max:g}",
                }
                for code in ("min_value", "max_value", "invalid", "max_decimal_places", "max_digits"):
                    field.error_messages[code] = plain
                field.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})
            self.fields[name] = field
            self.item_fields[item.code] = name

    def sections(self) -> list[tuple[str, list[forms.BoundField]]]:
        """Bound fields grouped under the instrument's printed headings, in order."""
        out = []
        for section in self.definition.sections:
            fields = [self[self.item_fields[c]] for c in section.item_codes if c in self.item_fields]
            if fields:
                out.append((staff(section.label), fields))
        return out

    def answers(self) -> dict[str, Any]:
        """Item code -> stored value (None for unanswered), from cleaned data."""
        out: dict[str, Any] = {}
        for code, name in self.item_fields.items():
            value = self.cleaned_data.get(name)
            if isinstance(value, Decimal):
                value = float(value) if value != value.to_integral_value() else int(value)
            out[code] = value
        return out

    def initial_from(self, answers: Mapping[str, Any]) -> None:
        for code, name in self.item_fields.items():
            if code in answers:
                self.initial[name] = answers[code]


def unscorable_outputs(instrument: str, answers: Mapping[str, Any]) -> list[str]:
    """What these answers leave unscored, in words: each scale with too few items answered, naming its rule and
    the items answered ("Pain needs 5 of 9 items; 4 answered: P2, P5, P7, P9"), for the instrument and for the
    scores derived from its answers (WOMAC, KOOS JR, KOOS-12 from KOOS; WOMAC, HOOS JR from HOOS)."""
    if instrument == HHS_EXAM:
        return []
    out = []
    for scored in (instrument, *DERIVED_NAMES.get(instrument, ())):
        definition = scoring.get_instrument(scored)
        prefix = "" if scored == instrument else f"{definition.name}: "
        for sub in definition.subscales:
            codes = list(sub.item_codes)  # a derived instrument's subscales list the source items
            answered = [c for c in codes if answers.get(c) is not None]
            if len(answered) >= sub.min_items:
                continue
            listed = ", ".join(answered) if answered else gettext("none")
            out.append(
                prefix
                + ngettext(
                    "%(scale)s needs %(min)s of %(n)s item; %(answered)s answered: %(listed)s",
                    "%(scale)s needs %(min)s of %(n)s items; %(answered)s answered: %(listed)s",
                    len(codes),
                )
                % {
                    "scale": sub.label,
                    "min": sub.min_items,
                    "n": len(codes),
                    "answered": len(answered),
                    "listed": listed,
                }
            )
    return out


# The scores a response's answers also give (WOMAC, KOOS JR and KOOS-12 from KOOS; WOMAC and HOOS JR from HOOS).
DERIVED_NAMES = {parent: scoring.derived_instruments(parent) for parent in ("koos", "hoos")}


BLANK_CHOICES = [("", "—"), *((c.value, c.label) for c in MissingCode if c != MissingCode.SKIPPED)]


class EntryForm(InstrumentForm):
    """Staff entry of answers given by phone, on paper or in the clinic. Every item left blank gets a reason,
    its own or the one given for all blanks; the reasons are stored as missing-data codes beside the answers."""

    blank_all = forms.ChoiceField(
        label=_("Reason for every blank without its own"),
        choices=BLANK_CHOICES,
        required=False,
        help_text=_("Use this when several items share one reason (e.g. a page of the paper form not filled in)."),
    )
    completed_on = forms.DateField(
        label=_("Date the answers were given"), widget=forms.DateInput(attrs={"type": "date"})
    )
    mode = forms.ChoiceField(
        label=pgettext_lazy("how the answers were given", "Mode"),
        choices=[c for c in Mode.choices if c[0] != Mode.WEB],
        initial=Mode.PAPER,
    )
    reason = forms.CharField(label=_("Reason for change"), required=False, max_length=100)
    confirm_incomplete = forms.BooleanField(
        label=_("Save anyway, with the scores that cannot be computed left empty"), required=False
    )

    def __init__(self, *args: Any, editing: bool, follow_up: FollowUp, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.follow_up = follow_up
        self.fields["reason"].required = editing
        if editing:
            self.fields["reason"].help_text = gettext("These answers were already submitted: say why they change.")
        self.fields["completed_on"].initial = min(timezone.localdate(), follow_up.window_closes)
        self.blank_fields: dict[str, str] = {}
        for code in self.item_fields:
            name = f"blank_{code}"
            self.fields[name] = forms.ChoiceField(
                label=gettext("%(item)s left blank because") % {"item": code}, choices=BLANK_CHOICES, required=False
            )
            self.fields[name].blank_for = code  # type: ignore[attr-defined]
            self.blank_fields[code] = name

    def entry_sections(self) -> list[tuple[str, list[tuple[forms.BoundField, forms.BoundField]]]]:
        """Each item's field with its blank-reason field, under the instrument's headings."""
        return [
            (title, [(f, self[self.blank_fields[f.field.item_code]]) for f in fields])
            for title, fields in self.sections()
        ]

    def other_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if not name.startswith(("item_", "blank_")) and name != "blank_all"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        every = cleaned.get("blank_all") or ""
        unexplained = []
        for code, name in self.item_fields.items():
            if name in self.errors:
                continue
            answered = cleaned.get(name) is not None
            reason = cleaned.get(self.blank_fields[code]) or ""
            if answered and reason:
                self.add_error(
                    self.blank_fields[code],
                    gettext("%(item)s has an answer: clear the reason, or clear the answer.") % {"item": code},
                )
            elif not answered and not reason and not every:
                unexplained.append(code)
        if unexplained:
            self.add_error(
                "blank_all",
                gettext("Left blank without a reason: %(items)s. Give each its reason, or one reason for all.")
                % {"items": ", ".join(unexplained)},
            )
            for code in unexplained:
                self.add_error(self.blank_fields[code], gettext("Why is this blank?"))
        return cleaned

    def missing(self) -> dict[str, str]:
        """Item code -> missing-data code, for the items left blank."""
        every = self.cleaned_data.get("blank_all") or ""
        out = {}
        for code, name in self.item_fields.items():
            if self.cleaned_data.get(name) is None:
                out[code] = self.cleaned_data.get(self.blank_fields[code]) or every
        return out

    def initial_missing(self, missing: dict[str, str]) -> None:
        for code, reason in missing.items():
            if code in self.blank_fields:
                self.initial[self.blank_fields[code]] = reason

    def clean_completed_on(self) -> Any:
        day = self.cleaned_data["completed_on"]
        fu = self.follow_up
        if day > timezone.localdate():
            raise ValidationError(gettext("This date is in the future."))
        if not fu.window_opens <= day <= fu.window_closes:
            raise ValidationError(
                gettext("Outside the %(timepoint)s window (%(opens)s to %(closes)s).")
                % {"timepoint": fu.get_timepoint_display(), "opens": fu.window_opens, "closes": fu.window_closes}
            )
        return day
