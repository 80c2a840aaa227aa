from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = _("Registry")

    def ready(self) -> None:
        from registry import roles
        from registry import signals as _first_administration  # noqa: F401 - connects the receivers

        # Role groups and their permissions are code, kept in step with the models after every migrate.
        post_migrate.connect(roles.sync_role_groups_after_migrate, dispatch_uid="registry.sync_role_groups")
        from registry import audit

        # On PostgreSQL the audit trail is append-only in the database itself.
        post_migrate.connect(audit.enforce_append_only_history, dispatch_uid="registry.append_only_history")
