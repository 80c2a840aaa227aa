"""Who can see which patients: one function decides, everything else calls it.

`sites_visible_to(user)` is the rule. Every site-scoped model carries `SITE_PATH`, the lookup from the model to
its Site, and its manager's `visible_to(user)` filters through that path. The admin (querysets, form choices,
autocomplete, inlines) and every export call `visible_to`, never their own filter.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.contrib.admin.utils import unquote
from django.db import models
from django.http import Http404

if TYPE_CHECKING:
    from registry.models import Site


_PK = re.compile(r"[0-9]{1,18}")


def pk_or_404(value: Any) -> int:
    """A database id from a URL or a query parameter, or a 404: "abc", "121.0", "²" (a digit to str.isdigit, not
    to int) and ids past a 64-bit integer are simply not found, never a 500."""
    text = unquote(str(value))
    if not _PK.fullmatch(text):
        raise Http404("No such record.")
    return int(text)


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
