"""Who can see which patients: one function decides, everything else calls it.

`sites_visible_to(user)` is the rule. Every site-scoped model carries `SITE_PATH`, the lookup from the model to
its Site, and its manager's `visible_to(user)` filters through that path. The admin (querysets, form choices,
autocomplete, inlines) and every export call `visible_to`, never their own filter.

The models' managers are built on `SiteScopedQuerySet`, so registry.models imports this module; this module
names the Site model through Django's app registry (`apps.get_model`, as a foreign key names "registry.Site")
rather than importing registry.models back.
"""

from __future__ import annotations

import re
from typing import Any

from django.apps import apps
from django.contrib.admin.utils import unquote
from django.db import models
from django.http import Http404

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


def sites_visible_to(user: Any) -> models.QuerySet:
    """The sites whose data `user` may see: all for a registry administrator, else active memberships."""
    Site = apps.get_model("registry", "Site")  # noqa: N806 - the model class, named as everywhere else
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
