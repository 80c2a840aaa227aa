"""python manage.py demo_users: the demo's logins, one per role, with known passwords (demo only)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from interop.models import IntegrationKey
from interop.services import integration_key_create, integration_key_revoke
from registry import roles
from registry.models import Membership, Site
from research.models import ApiKey
from research.services import api_key_create, api_key_revoke

# username, password, what they are; passwords are public by design: this is the demo.
DEMO_USERS = [
    ("admin", "demo-admin-pass", "registry administrator (all sites)"),
    ("coord.hrj", "demo-coord-pass", "coordinator at site HRJ"),
    ("coord.sro", "demo-coord-pass", "coordinator at site SRO"),
    ("researcher", "demo-research-pass", "researcher (read-only API, no admin access)"),
]

# The researcher's demo API key: the raw key is shown once, so each run revokes the last one and makes a new one.
DEMO_KEY_NAME = "demo researcher (HRJ, SRO)"  # the keys made before each tier had its own name


def demo_key_name(tier: str) -> str:
    return f"demo researcher, {tier} tier (HRJ, SRO)"


# HRJ's demo integration key (a hospital system posting answers over FHIR), replaced on each run as well.
DEMO_INTEGRATION_KEY_NAME = "demo hospital system (HRJ)"


class Command(BaseCommand):
    help = "Create or reset the demo logins (refuses to run unless DEBUG is on or --force is given)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="run even with DEBUG off (never in production)")

    @transaction.atomic
    def handle(self, *args: Any, **opts: Any) -> None:
        if not settings.DEBUG and not opts["force"]:
            raise CommandError("demo_users creates logins with published passwords; it runs only with DEBUG=true.")
        sites = {s.code: s for s in Site.objects.filter(code__in=["HRJ", "SRO"])}
        if len(sites) < 2:
            raise CommandError("Demo sites HRJ and SRO are missing: run seed_demo first.")
        for username, password, _ in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username)
            user.set_password(password)
            user.email = f"{username}@example.test"
            user.is_active = True
            user.is_superuser = username == "admin"
            user.is_staff = username != "researcher"
            user.save()
            if username.startswith("coord."):
                site = sites[username.split(".")[1].upper()]
                Membership.objects.update_or_create(
                    user=user, site=site, defaults={"role": Membership.Role.COORDINATOR, "active": True}
                )
                roles.membership_sync_user(user=user)
        self.stdout.write("Demo logins (username / password — role):")
        for username, password, role in DEMO_USERS:
            self.stdout.write(f"  {username:<12} / {password:<20} — {role}")
        by = User.objects.get(username="admin")
        rows_key = self.research_key(sites=[sites["HRJ"], sites["SRO"]], by=by, tier=ApiKey.Tier.ROWS)
        summary_key = self.research_key(sites=[sites["HRJ"], sites["SRO"]], by=by, tier=ApiKey.Tier.SUMMARY)
        self.stdout.write("Researcher API keys (sites HRJ and SRO, 30 days; new ones each run, the old ones revoked):")
        self.stdout.write("  rows tier (the row-level datasets, CSV/SPSS/Stata, FHIR $export, and the summaries")
        self.stdout.write("  unperturbed; every row-level request logged):")
        self.stdout.write(f"  {rows_key}")
        scores_csv = f"{settings.REGISTRY_BASE_URL}/api/v1/scores/?instrument=koos&format=csv"
        self.stdout.write(f'  curl -H "Authorization: Token {rows_key}" "{scores_csv}"')
        self.stdout.write("  summary tier (summaries with cell-key perturbation, dictionary, data package, schema;")
        self.stdout.write("  rows are refused with 403):")
        self.stdout.write(f"  {summary_key}")
        summary = f"{settings.REGISTRY_BASE_URL}/api/v1/summaries/scores/?instrument=koos&key=pain"
        self.stdout.write(f'  curl -H "Authorization: Token {summary_key}" "{summary}"')
        self.stdout.write(f"  API docs: {settings.REGISTRY_BASE_URL}/api/v1/docs/")
        for old in IntegrationKey.objects.filter(name=DEMO_INTEGRATION_KEY_NAME, revoked_at__isnull=True):
            integration_key_revoke(key=old)
        admin = User.objects.get(username="admin")
        _, raw_ik = integration_key_create(name=DEMO_INTEGRATION_KEY_NAME, site=sites["HRJ"], created_by=admin)
        self.stdout.write('HRJ\'s integration key (FHIR, README "FHIR"; a new one each run, the old one revoked):')
        questionnaires = f"{settings.REGISTRY_BASE_URL}/fhir/Questionnaire"
        self.stdout.write(f'  curl -H "Authorization: Bearer {raw_ik}" "{questionnaires}"')

    def research_key(self, *, sites: list[Site], by: User, tier: str) -> str:
        from datetime import timedelta

        from django.utils import timezone

        names = [DEMO_KEY_NAME, demo_key_name(tier)]
        for old in ApiKey.objects.filter(name__in=names, tier=tier, revoked_at__isnull=True):
            api_key_revoke(key=old)
        _, raw_key = api_key_create(
            name=demo_key_name(tier),
            sites=sites,
            tier=tier,
            expires_at=timezone.now() + timedelta(days=30),
            created_by=by,
        )
        return raw_key
