"""Mobile numbers: read as the patient writes them, checked with libphonenumber (the `phonenumbers` package) and
stored in E.164 (+821012345678), the one form text-message providers take.

A number written without a leading + is read as a number of the patient's country (the site's, unless the
patient's identity names another); one with + and a country code is read as written, so a patient travelling from
abroad keeps their own number. A number that is not valid there, or is a landline, is refused with the reason.
"""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)

TEXTABLE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,  # countries whose plans do not tell them apart (US, CN)
}


def country_choices() -> list[tuple[str, str]]:
    """Every region libphonenumber knows, as "KR (+82)"."""
    return sorted(
        (code, f"{code} (+{phonenumbers.country_code_for_region(code)})") for code in phonenumbers.SUPPORTED_REGIONS
    )


def mobile_normalise(raw: str, *, country: str) -> str:
    """The number in E.164, or ValidationError naming what is wrong. Empty stays empty."""
    text = (raw or "").strip()
    if not text:
        return ""
    region = (country or "").upper() or None
    if not text.startswith("+") and region is None:
        raise ValidationError(
            _("Write the number with + and its country code (e.g. +82 10 1234 5678): the site has no country set.")
        )
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        raise ValidationError(_("“%(number)s” is not a phone number.") % {"number": text}) from None
    if not phonenumbers.is_valid_number(number):
        if text.startswith("+"):
            raise ValidationError(_("“%(number)s” is not a valid phone number.") % {"number": text})
        raise ValidationError(
            _(
                "“%(number)s” is not a valid phone number in %(country)s. For a number of another country, start "
                "with + and the country code."
            )
            % {"number": text, "country": region}
        )
    if phonenumbers.number_type(number) not in TEXTABLE_TYPES:
        raise ValidationError(
            _("“%(number)s” is a landline or service number: text messages need a mobile number.") % {"number": text}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mobile_display(e164: str) -> str:
    """For staff pages: +82 10-1234-5678."""
    if not e164:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164
