"""Follow-up's model permissions for the staff roles (added to registry.roles by outcomes.apps)."""

from __future__ import annotations

# Follow-ups are made by the schedule and answers go through the entry form: staff view them and enter answers.
_STAFF = {
    "outcomes.outcomeplan": ("view",),
    "outcomes.followup": ("view", "change"),
    "outcomes.worklist": ("view",),
    "outcomes.response": ("view", "add", "change"),
    "outcomes.instrumentwording": ("view", "add", "change"),
    "outcomes.message": ("view",),
    "outcomes.emailoptout": ("view", "add", "delete"),
    "outcomes.followupsettings": ("view", "add", "change"),
    "outcomes.importrun": ("view", "add"),  # importing earlier records; a run is never changed
}

FOLLOW_UP_GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "coordinator": _STAFF,
    "clinician": _STAFF,
    "viewer": dict.fromkeys(_STAFF, ("view",)),
}
