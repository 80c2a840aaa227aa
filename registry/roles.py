"""Staff roles. A Membership gives a user a role at a site; the role's Django group carries the model
permissions. Which *rows* a user sees is decided by registry.access, not here.

Site staff never delete clinical data: corrections are changes, and history keeps both versions. Deletion is
for the registry administrator (a superuser).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction

# app_label.model -> actions, per role. Models of later apps are added here as they arrive.
CLINICAL_MODELS = [
    "registry.patient",
    "registry.patientidentity",
    "registry.treatmentepisode",
    "registry.administration",
    "registry.adverseevent",
    "registry.subsequentsurgery",
]
READ_ONLY_MODELS = ["registry.site", "registry.protocol", "registry.membership", "outcomes.outcomeplan"]
# Follow-ups are made by the schedule and answers go through the entry form: staff view them and enter answers.
FOLLOW_UP_GRANTS = {
    "outcomes.followup": ("view", "change"),
    "outcomes.worklist": ("view",),
    "outcomes.response": ("view", "add", "change"),
    "outcomes.instrumentwording": ("view", "add", "change"),
    "outcomes.message": ("view",),
    "outcomes.emailoptout": ("view", "add", "delete"),
    "outcomes.followupsettings": ("view", "add", "change"),
}

ROLE_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "coordinator": {
        **dict.fromkeys(CLINICAL_MODELS, ("view", "add", "change")),
        **dict.fromkeys(READ_ONLY_MODELS, ("view",)),
        "registry.protocol": ("view", "add", "change"),
        **FOLLOW_UP_GRANTS,
    },
    "clinician": {
        **dict.fromkeys(CLINICAL_MODELS, ("view", "add", "change")),
        **dict.fromkeys(READ_ONLY_MODELS, ("view",)),
        **FOLLOW_UP_GRANTS,
    },
    "viewer": dict.fromkeys(CLINICAL_MODELS + READ_ONLY_MODELS + list(FOLLOW_UP_GRANTS), ("view",)),
}


def group_name(role: str) -> str:
    return f"Site {role}"


@transaction.atomic
def sync_role_groups() -> None:
    """Create or update one group per role with exactly the permissions listed above."""
    for role, grants in ROLE_GROUPS.items():
        group, _ = Group.objects.get_or_create(name=group_name(role))
        wanted = []
        for model_label, actions in grants.items():
            app_label, model = model_label.split(".")
            for action in actions:
                perm = Permission.objects.filter(
                    content_type__app_label=app_label, codename=f"{action}_{model}"
                ).first()
                if perm is not None:  # a model of an app not migrated yet
                    wanted.append(perm)
        group.permissions.set(wanted)


def sync_role_groups_after_migrate(sender: Any, **kwargs: Any) -> None:
    # auth's own post_migrate handler (connected earlier) has created this app's permissions by now.
    if getattr(sender, "name", None) in ("registry", "outcomes"):
        sync_role_groups()


@transaction.atomic
def membership_sync_user(*, user: Any) -> None:
    """Give a user exactly the role groups and staff status their active memberships call for."""
    from registry.models import Membership

    roles = set(Membership.objects.filter(user=user, active=True).values_list("role", flat=True))
    role_groups = Group.objects.filter(name__in=[group_name(r) for r in ROLE_GROUPS])
    user.groups.remove(*role_groups)
    user.groups.add(*Group.objects.filter(name__in=[group_name(r) for r in roles]))
    if roles and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
