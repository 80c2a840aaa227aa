"""The scoring engine's English names, for staff pages in the staff member's language.

`scoring/` is pure Python without Django, and the research API and data dictionary keep its English names
beside the stable keys. Staff pages show instrument names, score names, section headings, recall periods, the
notes a form must show and value-set countries through `staff()`: each engine text listed here is a gettext
message of this app (translated in outcomes/locale); any other text, such as a site's own loaded wording, is shown
as given. tests/outcomes/test_engine_words.py fails when the engine gains a text that is not listed here.
"""

from __future__ import annotations

from django.utils.translation import gettext, gettext_noop

# Acronyms that read the same in every language: shown as they are, never looked up.
AS_IS = frozenset({"ODI"})

WORDS = frozenset(
    {
        # Instrument names
        gettext_noop("Knee injury and Osteoarthritis Outcome Score (KOOS)"),
        gettext_noop("Hip disability and Osteoarthritis Outcome Score (HOOS)"),
        gettext_noop("Western Ontario and McMaster Universities Osteoarthritis Index (WOMAC)"),
        gettext_noop("WOMAC derived from KOOS"),
        gettext_noop("WOMAC derived from HOOS"),
        gettext_noop("Harris Hip Score (HHS)"),
        gettext_noop("modified Harris Hip Score (mHHS)"),
        gettext_noop("Pain visual analogue scale (VAS, 0-100 mm)"),
        gettext_noop("Pain numeric rating scale (NRS, 0-10)"),
        gettext_noop("Oswestry Disability Index (ODI)"),
        gettext_noop("Knee injury and Osteoarthritis Outcome Score for Joint Replacement (KOOS, JR.)"),
        gettext_noop("Hip disability and Osteoarthritis Outcome Score for Joint Replacement (HOOS, JR.)"),
        gettext_noop("Knee injury and Osteoarthritis Outcome Score, 12-item short form (KOOS-12)"),
        gettext_noop("PROMIS Global Health (PROMIS-10)"),
        gettext_noop("KOOS, JR. derived from KOOS"),
        gettext_noop("HOOS, JR. derived from HOOS"),
        gettext_noop("KOOS-12 derived from KOOS"),
        gettext_noop("IKDC Subjective Knee Evaluation Form"),
        gettext_noop("Lysholm knee score"),
        gettext_noop("Tegner activity level"),
        gettext_noop("EQ-5D-5L index"),
        # Score names (the label without its range, as staff pages show it)
        gettext_noop("KOOS pain"),
        gettext_noop("KOOS symptoms"),
        gettext_noop("KOOS function in daily living"),
        gettext_noop("KOOS function in sport and recreation"),
        gettext_noop("KOOS knee-related quality of life"),
        gettext_noop("KOOS4 as defined by Frobell 2010: mean of pain, symptoms, sport/rec and QOL"),
        gettext_noop("KOOS4 as defined by Skou 2015: mean of pain, symptoms, ADL and QOL"),
        gettext_noop("KOOS5: mean of all five subscales"),
        gettext_noop("HOOS pain"),
        gettext_noop("HOOS symptoms"),
        gettext_noop("HOOS function in daily living"),
        gettext_noop("HOOS function in sport and recreation"),
        gettext_noop("HOOS hip-related quality of life"),
        gettext_noop("WOMAC pain, raw sum"),
        gettext_noop("WOMAC stiffness, raw sum"),
        gettext_noop("WOMAC physical function, raw sum"),
        gettext_noop("WOMAC total, raw sum"),
        gettext_noop("WOMAC pain 0-100"),
        gettext_noop("WOMAC stiffness 0-100"),
        gettext_noop("WOMAC physical function 0-100"),
        gettext_noop("WOMAC total 0-100"),
        gettext_noop("WOMAC pain 0-100 inverted"),
        gettext_noop("WOMAC stiffness 0-100 inverted"),
        gettext_noop("WOMAC physical function 0-100 inverted"),
        gettext_noop("WOMAC total 0-100 inverted"),
        gettext_noop("HHS pain"),
        gettext_noop("HHS gait: limp + support + distance"),
        gettext_noop("HHS activities"),
        gettext_noop("HHS function: gait + activities"),
        gettext_noop("HHS absence of deformity"),
        gettext_noop("Harris range-of-motion index, sum"),
        gettext_noop("HHS range of motion: index sum x 0.05, capped at 5"),
        gettext_noop("Harris Hip Score"),
        gettext_noop("HHS category"),
        gettext_noop("mHHS raw: HHS pain + function"),
        gettext_noop("mHHS: raw x 1.1, capped at 100"),
        gettext_noop("mHHS: raw x 1.1, not capped"),
        gettext_noop("mHHS: raw x 100 / 91"),
        gettext_noop("Pain VAS"),
        gettext_noop("Pain NRS"),
        gettext_noop("ODI sections answered"),
        gettext_noop("ODI disability band"),
        gettext_noop("KOOS, JR. raw sum of the item scores"),
        gettext_noop("KOOS, JR. interval score"),
        gettext_noop("HOOS, JR. raw sum of the item scores"),
        gettext_noop("HOOS, JR. interval score"),
        gettext_noop("KOOS-12 pain"),
        gettext_noop("KOOS-12 function"),
        gettext_noop("KOOS-12 knee-related quality of life"),
        gettext_noop("KOOS-12 summary: mean of pain, function and quality of life"),
        gettext_noop("PROMIS Global Physical Health raw sum"),
        gettext_noop("PROMIS Global Physical Health T-score"),
        gettext_noop("PROMIS Global Physical Health T-score standard error"),
        gettext_noop("PROMIS Global Mental Health raw sum"),
        gettext_noop("PROMIS Global Mental Health T-score"),
        gettext_noop("PROMIS Global Mental Health T-score standard error"),
        gettext_noop("IKDC raw: sum of the answered items' scores"),
        gettext_noop("IKDC maximum possible for the answered items"),
        gettext_noop("IKDC scored items answered"),
        gettext_noop("IKDC subjective knee score"),
        gettext_noop("EQ-5D-5L index, in the value set given"),
        # Section headings
        gettext_noop("Symptoms"),
        gettext_noop("Pain"),
        gettext_noop("Function in daily living"),
        gettext_noop("Function in sport and recreation"),
        gettext_noop("Knee-related quality of life"),
        gettext_noop("Hip-related quality of life"),
        gettext_noop("Stiffness"),
        gettext_noop("Physical function"),
        gettext_noop("Function: gait"),
        gettext_noop("Function: activities"),
        gettext_noop("Absence of deformity"),
        gettext_noop("Range of motion"),
        gettext_noop("Oswestry Disability Index"),
        gettext_noop("Function, daily living"),
        gettext_noop("Function"),
        gettext_noop("Global health"),
        gettext_noop("In the past 7 days"),
        gettext_noop("Sports activities"),
        gettext_noop("Activity level"),
        gettext_noop("EQ-5D-5L descriptive system"),
        # Recall periods
        gettext_noop("the last week"),
        gettext_noop("the last 48 hours"),
        gettext_noop("the last week (as KOOS asks; WOMAC itself asks about the last 48 hours)"),
        gettext_noop("the last week (as HOOS asks; WOMAC itself asks about the last 48 hours)"),
        gettext_noop("the patient's current state (pain and function) and the examination (deformity, motion)"),
        gettext_noop("the patient's current state"),
        gettext_noop("as set by the site's protocol"),
        gettext_noop("today"),
        gettext_noop("in general (items 1-7) and the past 7 days (items 8-10)"),
        gettext_noop("the past 4 weeks, or since the injury (symptoms); the patient's current state (function)"),
        gettext_noop("as set by the site's protocol (current, or before the injury)"),
        # Countries of the EQ-5D-5L value sets
        gettext_noop("United States"),
        gettext_noop("Germany"),
        gettext_noop("England"),
        gettext_noop("Japan"),
        gettext_noop("South Korea"),
        gettext_noop("China"),
        # Notes a form must show (the answer entry page)
        gettext_noop("KOOS asks about the last week, WOMAC about the last 48 hours."),
        gettext_noop("HOOS asks about the last week, WOMAC about the last 48 hours."),
        gettext_noop("Trendelenburg sign: Harris records it but does not score it; store it outside the score."),
        gettext_noop(
            "PROMIS Global Health v1.2 only: Global08r and Global10r are stored as printed on the v1.2 form (5 = best) and Global07r as the 0-10 rating; answers coded as in v1.0/1.1 must not be entered."  # noqa: E501
        ),
        gettext_noop(
            "Scored from the KOOS answers (the patient answered once); the KOOS, JR. items are KOOS items with the same codes, asked here within the full KOOS."  # noqa: E501
        ),
        gettext_noop(
            "Scored from the HOOS answers (the patient answered once); the HOOS, JR. items are HOOS items with the same codes, asked here within the full HOOS."  # noqa: E501
        ),
        gettext_noop(
            "Scored from the KOOS answers (the patient answered once); the KOOS-12 items are KOOS items with the same codes, asked here within the full KOOS."  # noqa: E501
        ),
        gettext_noop("IKDC10a (function before the injury) is recorded for the clinician and never enters the score."),
        gettext_noop(
            "The index depends on the value set: store the value set with every index, and never compare indices computed with different sets. The EQ VAS is a separate instrument, not an input here."  # noqa: E501
        ),
    }
)


def staff(text: str) -> str:
    """An engine text in the active language; any text not listed is returned unchanged."""
    return gettext(text) if text in WORDS else text
