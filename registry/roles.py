"""Staff roles. A Membership gives a user a role at a site; the role's Django group carries the model
permissions. Which *rows* a user sees is decided by registry.access, not here.

Site staff never delete clinical data: corrections are changes, and history keeps both versions. Deletion is
for the registry administrator (a superuser).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from registry.models import Membership

# app_label.model -> actions, per role. The apps above the core add theirs with grants_add() in their ready().
CLINICAL_MODELS = [
    "registry.patient",
    "registry.patientidentity",
    "registry.treatmentepisode",
    "registry.administration",
    "registry.adverseevent",
    "registry.subsequentsurgery",
]
READ_ONLY_MODELS = [
    "registry.site",
    "registry.releasepolicy",  # the site's research release policy: set by the registry administrator
    "registry.protocol",
    "registry.membership",
    "registry.consentdocument",
    "registry.consentdecision",  # the patient's own answers: nobody edits them
]

ROLE_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "coordinator": {
        **dict.fromkeys(CLINICAL_MODELS, ("view", "add", "change")),
        **dict.fromkeys(READ_ONLY_MODELS, ("view",)),
        "registry.protocol": ("view", "add", "change"),
        "registry.consentdocument": ("view", "add", "change"),  # the site's consent document, per language
    },
    "clinician": {
        **dict.fromkeys(CLINICAL_MODELS, ("view", "add", "change")),
        **dict.fromkeys(READ_ONLY_MODELS, ("view",)),
    },
    "viewer": dict.fromkeys(CLINICAL_MODELS + READ_ONLY_MODELS, ("view",)),
}


def grants_add(grants: dict[str, dict[str, tuple[str, ...]]]) -> None:
    """Add an app's model permissions to the roles: {role: {"app_label.model": actions}}."""
    unknown = set(grants) - set(ROLE_GROUPS)
    if unknown:
        raise ValueError(f"No such role: {', '.join(sorted(unknown))}")
    for role, models in grants.items():
        ROLE_GROUPS[role].update(models)


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
    granted = {label.split(".")[0] for grants in ROLE_GROUPS.values() for label in grants}
    if getattr(sender, "label", None) in granted:
        sync_role_groups()


@transaction.atomic
def membership_sync_user(*, user: Any) -> None:
    """Give a user exactly the role groups and staff status their active memberships call for."""
    roles = set(Membership.objects.filter(user=user, active=True).values_list("role", flat=True))
    role_groups = Group.objects.filter(name__in=[group_name(r) for r in ROLE_GROUPS])
    user.groups.remove(*role_groups)
    user.groups.add(*Group.objects.filter(name__in=[group_name(r) for r in roles]))
    if roles and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
