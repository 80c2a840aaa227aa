"""Who can see which patients: one function decides, everything else calls it.

`sites_visible_to(user)` is the rule. Every site-scoped model carries `SITE_PATH`, the lookup from the model to
its Site, and its manager's `visible_to(user)` filters through that path. The admin (querysets, form choices,
autocomplete, inlines) and every export call `visible_to`, never their own filter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from registry.models import Site


def is_registry_admin(user: Any) -> bool:
    """The registry administrator sees and manages every site."""
    return bool(user and user.is_active and user.is_superuser)


def sites_visible_to(user: Any) -> models.QuerySet[Site]:
    """The sites whose data `user` may see: all for a registry administrator, else active memberships."""
    from registry.models import Site

    if not user or not user.is_authenticated or not user.is_active:
        return Site.objects.none()
    if is_registry_admin(user):
        return Site.objects.all()
    return Site.objects.filter(memberships__user=user, memberships__active=True)


class SiteScopedQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> SiteScopedQuerySet:
        if is_registry_admin(user):
            return self
        path = self.model.SITE_PATH
        visible = sites_visible_to(user).values("pk")
        return self.filter(**{f"{path}__in" if path else "pk__in": visible})
