"""The access matrix, built from the URL configuration itself: every admin page, API endpoint and patient page,
against every persona, with the expected outcome. A route that no rule below classifies fails the test, so a new
page cannot be added without deciding who may see it. No other site's object by ID, ever.

Personas: anonymous; a patient holding a link (site B's); coordinator of site A (alice); coordinator of site B
(bob); a researcher with an API key scoped to site A (no admin session); the registry administrator (charlie).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from outcomes import dispatcher, outbox
from outcomes.models import (
    EmailOptOut,
    FollowUpSettings,
    ImportRun,
    InstrumentWording,
    Message,
    OutcomePlan,
    Response,
)
from registry.models import ConsentDocument, Membership
from tests import factories
from tests.outcomes.conftest import all_items

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.PATIENT_RATE_LIMIT = 100_000  # every persona's client shares one address here


# app.model -> (scoped to a site, what a coordinator may do). A model admin missing here fails the test.
MODELS: dict[str, tuple[bool, set[str]]] = {
    "registry.site": (True, {"view"}),
    "registry.membership": (True, {"view"}),
    "registry.protocol": (True, {"view", "add", "change"}),
    "registry.consentdocument": (True, {"view", "add", "change"}),
    "registry.patient": (True, {"view", "add", "change"}),
    "registry.treatmentepisode": (True, {"view", "add", "change"}),
    "registry.administration": (True, {"view", "add", "change"}),
    "registry.adverseevent": (True, {"view", "add", "change"}),
    "registry.subsequentsurgery": (True, {"view", "add", "change"}),
    "research.apikey": (False, set()),
    "interop.integrationkey": (False, set()),
    "research.subjectpseudonym": (False, set()),
    "research.episodepseudonym": (False, set()),
    "research.rowrequest": (False, set()),
    "auth.user": (False, set()),
    "auth.group": (False, set()),
    "axes.accessattempt": (False, set()),
    "axes.accesslog": (False, set()),
    "axes.accessfailurelog": (False, set()),
    "otp_totp.totpdevice": (False, set()),
    "outcomes.outcomeplan": (True, {"view"}),
    "outcomes.followup": (True, {"view", "change"}),
    "outcomes.worklist": (True, {"view"}),
    "outcomes.response": (True, {"view", "change"}),
    "outcomes.instrumentwording": (True, {"view", "add", "change"}),
    "outcomes.message": (True, {"view"}),
    "outcomes.emailoptout": (True, {"view", "add", "delete"}),
    "outcomes.followupsettings": (True, {"view", "add", "change"}),
    "outcomes.importrun": (True, {"view", "add"}),
}
NO_ADD = {
    "outcomes.followup",
    "outcomes.worklist",
    "outcomes.response",
    "outcomes.message",
    "research.subjectpseudonym",
    "research.episodepseudonym",
    "research.rowrequest",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
}
NO_CHANGE_FORM = {"outcomes.worklist"}  # change and history redirect to the follow-up's pages
NO_DELETE = {  # keys are revoked and staff deactivated, never deleted; an import run is what happened
    "outcomes.message",
    "outcomes.importrun",
    "research.apikey",
    "interop.integrationkey",
    "research.subjectpseudonym",
    "research.episodepseudonym",
    "research.rowrequest",
    "auth.user",
}
HISTORY_LESS = {
    "otp_totp.totpdevice",
    "research.apikey",
    "interop.integrationkey",
    "research.subjectpseudonym",
    "research.episodepseudonym",
    "research.rowrequest",
    "auth.user",
    "auth.group",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
    "outcomes.message",
    "outcomes.outcomeplan",
    "outcomes.importrun",
}
NON_ADMIN_ROUTES = {
    "": "root",
    "healthz": "health",
    "p/q/": "patient",
    "p/q/<int:number>/": "patient",
    "p/q/summary/": "patient",
    "p/q/thanks/": "patient",
    "p/language/": "patient",
    "p/q/consent/": "patient",
    "p/tablet/done/": "tablet_screen",  # names nobody; tested below
    "p/tablet/end/": "tablet_screen",
    "p/optout/<str:token>/": "patient_token",
    "p/withdraw/<str:token>/": "patient_token",
    "p/<str:token>/": "patient_token",
    "p/texts/inbound/twilio/": "provider_signed",  # only Twilio's signature opens it; tested below
    "api/v1/schema/": "api_doc",
    "api/v1/docs/": "api_doc",
    "api/v1/redoc/": "api_doc",
    "admin/audit/export/": "registry_admin_only",
    "admin/account/two-factor/": "staff_self_service",
    # Charts (tests/charts/test_charts_pages.py checks each persona on these three, and a test below):
    "admin/dashboard/site/": "staff_site_scoped",
    "charts/cohort/": "cohort_page",  # data for the registry administrator; an empty key form for anyone else
    "charts/cohort/figures/": "research_key",
    "i18n/setlang/": "language_choice",  # sets a cookie, reads and changes no data; tested below
    # FHIR (interop): the CapabilityStatement is public; staff reads take a staff session or a site's integration
    # key, own site only; $export and its status and files take a researcher's key. Tested below.
    "fhir/metadata": "public",
    "fhir/Questionnaire": "fhir_staff",
    "fhir/Questionnaire/<str:fhir_id>": "fhir_staff",
    "fhir/Patient/<str:registry_id>": "fhir_staff_site_scoped",
    "fhir/QuestionnaireResponse": "fhir_staff_site_scoped",  # POST: an integration key only (tests/interop)
    "fhir/Observation": "fhir_staff_site_scoped",
    "fhir/$export": "research_key",
    "fhir/$export-status/<uuid:export_id>": "research_key",
    "fhir/$export-files/<uuid:export_id>/<str:resource_type>.ndjson": "research_key",
}
PERSONAS = ["anonymous", "patient_b", "coord_a", "coord_b", "researcher_a", "admin"]
# Admin views beyond the standard five, each tested on its own below.
EXTRA_ADMIN_VIEWS = {
    "otp_totp_totpdevice_config",
    "otp_totp_totpdevice_qrcode",
    "outcomes_followup_enter",
    "outcomes_followup_tablet",
    "outcomes_followup_call",
    "outcomes_followup_resume",
    "outcomes_followup_resend",
    "outcomes_followup_resolve",
    "outcomes_importrun_commit",
    "registry_episode_done",
    "registry_episode_cancel",
    "research_apikey_created",
    "auth_user_password_change",
    "registry_patient_export",
    "registry_patient_anonymise",
}


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.name


def routes():
    return list(_walk(get_resolver().url_patterns))


@pytest.fixture
def world(site_a, site_b, alice, bob, charlie, patient_a, patient_b):
    """One object of every site-scoped kind at each site, and the personas' clients."""
    today = date.today()
    objects: dict[str, dict[str, object]] = {"A": {}, "B": {}}
    for key, site, patient, user in (("A", site_a, patient_a, alice), ("B", site_b, patient_b, bob)):
        episode = factories.EpisodeFactory(patient=patient, index_date=today - timedelta(days=100))
        m3 = episode.follow_ups.get(timepoint="m3")
        from outcomes import services

        services.response_submit(follow_up=m3, instrument="vas", answers={"vas_mm": 20}, by=user, mode="phone")
        plan = OutcomePlan.objects.create(name=f"Plan {key}", joint="hip", site=site)
        objects[key] = {
            "registry.site": site,
            "registry.membership": Membership.objects.get(site=site),
            "registry.protocol": factories.ProtocolFactory(site=site),
            "registry.consentdocument": ConsentDocument.objects.create(
                site=site, language="en", version="1.0", title=f"Registry at {key}", text="Why we ask."
            ),
            "registry.patient": patient,
            "registry.treatmentepisode": episode,
            "registry.administration": factories.AdministrationFactory(episode=episode),
            "registry.adverseevent": factories.AdverseEventFactory(episode=episode),
            "registry.subsequentsurgery": factories.SurgeryFactory(episode=episode),
            "outcomes.outcomeplan": plan,
            "outcomes.followup": m3,
            "outcomes.worklist": m3,
            "outcomes.response": Response.objects.get(follow_up=m3),
            "outcomes.instrumentwording": InstrumentWording.objects.get(site=site, instrument="vas", language="en"),
            "outcomes.message": Message.objects.create(
                kind="invitation", site=site, patient=patient, dedupe_key=f"matrix-{key}"
            ),
            "outcomes.emailoptout": EmailOptOut.objects.create(
                patient=factories.PatientFactory(site=site), source="staff"
            ),
            "outcomes.followupsettings": FollowUpSettings.objects.create(site=site),
            "outcomes.importrun": ImportRun.objects.create(
                site=site, user=user, file_name=f"records-{key}.csv", sha256="0" * 64, source="matrix", mapping={}
            ),
        }
    from django.contrib.auth.models import Group

    from research.services import api_key_create

    key_a, raw_a = api_key_create(name="matrix A", sites=[site_a], tier="rows")
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from interop.services import integration_key_create

    shared = {
        "interop.integrationkey": integration_key_create(name="matrix A", site=site_a)[0],
        "otp_totp.totpdevice": TOTPDevice.objects.create(user=charlie, name="phone", confirmed=False),
        "auth.user": alice,
        "auth.group": Group.objects.first(),
        "research.apikey": key_a,
    }
    # Pseudonyms exist once the API has been used; axes rows once a login failed.
    Client().get("/api/v1/treatments/", HTTP_AUTHORIZATION=f"Token {raw_a}")
    Client().post("/admin/login/", {"username": "nobody", "password": "wrong-wrong-wrong"})
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    from research.models import EpisodePseudonym, RowRequest, SubjectPseudonym

    shared.update(
        {
            "research.rowrequest": RowRequest.objects.first(),
            "research.subjectpseudonym": SubjectPseudonym.objects.first(),
            "research.episodepseudonym": EpisodePseudonym.objects.first(),
            "axes.accessattempt": AccessAttempt.objects.first(),
            "axes.accesslog": AccessLog.objects.first()
            or AccessLog.objects.create(username="x", ip_address="127.0.0.1"),
            "axes.accessfailurelog": AccessFailureLog.objects.first(),
        }
    )
    for label, obj in shared.items():
        objects["A"][label] = objects["B"][label] = obj
    # The patient of site B opens their link.
    report = dispatcher.dispatch()
    for message_id in report.due:
        outbox.message_send(message_id=message_id)
    from django.core import mail

    token_b = next(
        re.search(r"/p/(?!optout)([\w-]+)/", m.body).group(1) for m in mail.outbox if m.to == [patient_b.identity.email]
    )
    clients = {p: Client() for p in PERSONAS}
    clients["coord_a"].force_login(alice)
    clients["coord_b"].force_login(bob)
    clients["admin"].force_login(charlie)
    clients["patient_b"].get(f"/p/{token_b}/")
    clients["researcher_a"].defaults["HTTP_AUTHORIZATION"] = f"Token {raw_a}"
    return {"objects": objects, "clients": clients, "token_b": token_b}


def _admin_requests(world):
    """(persona, url, method, expected set of status codes, why) for every admin route."""
    out = []
    staff = {"coord_a": "A", "coord_b": "B"}
    for model, model_admin in admin.site._registry.items():
        label = f"{model._meta.app_label}.{model._meta.model_name}"
        assert label in MODELS, f"{label} has an admin but no row in the access matrix"
        scoped, may = MODELS[label]
        short = f"{model._meta.app_label}_{model._meta.model_name}"
        base = f"admin:{short}"
        names = {p.name for p in model_admin.get_urls() if p.name}
        for persona in PERSONAS:
            for site in ("A", "B"):
                obj = world["objects"][site].get(label)
                if obj is None:
                    continue
                views = ["change", "history", "delete"]
                for view in views:
                    url = reverse(f"{base}_{view}", args=[obj.pk])
                    if persona in ("anonymous", "patient_b", "researcher_a"):
                        expected, why = {302}, "not staff: to the login page"
                    elif persona == "admin":
                        expected = {200}
                        if view in ("change", "history") and label in NO_CHANGE_FORM:
                            expected = {302}
                        if view == "delete" and label in NO_DELETE:
                            expected = {403}
                        if view == "history" and label in HISTORY_LESS:
                            expected = {200}
                        why = "registry administrator"
                    else:
                        own = staff[persona] == site
                        if scoped and not own:
                            # Change and history look the record up among the coordinator's own: not there. Delete
                            # first asks for the right, for any id alike (so a 403 says nothing of the record).
                            why = "another site's record"
                            expected = {403} if view == "delete" and "delete" not in may else {404}
                        elif "view" not in may and view != "delete":
                            expected, why = {403}, "no permission"
                        elif view == "delete":
                            expected, why = ({200} if "delete" in may else {403}), "delete right"
                        elif view in ("change", "history") and label in NO_CHANGE_FORM:
                            expected, why = {302}, "worklist opens the follow-up"
                        else:
                            expected, why = {200}, "own site"
                    out.append((persona, url, "get", expected, why))
                if f"{short}_simple_history" in names and hasattr(obj, "history"):
                    version = obj.history.order_by("history_id").first()
                    if version is not None:
                        url = reverse(f"{base}_simple_history", args=[obj.pk, version.history_id])
                        if persona in ("anonymous", "patient_b", "researcher_a"):
                            expected = {302}
                        elif persona == "admin":
                            expected = {200}
                        elif scoped and staff[persona] != site:
                            expected = {404}
                        elif "view" not in may:
                            expected = {403}
                        else:
                            expected = {200}  # the view right is enough to read a version
                        out.append((persona, url, "get", expected, "history version"))
            for view in ("changelist", "add"):
                url = reverse(f"{base}_{view}")
                if persona in ("anonymous", "patient_b", "researcher_a"):
                    expected = {302}
                elif persona == "admin":
                    expected = {403} if view == "add" and label in NO_ADD else {200}
                elif view == "changelist":
                    expected = {200} if "view" in may else {403}
                else:
                    expected = {200} if "add" in may and label not in NO_ADD else {403}
                out.append((persona, url, "get", expected, view))
            for name in names - {
                f"{short}_{v}" for v in ("changelist", "add", "change", "history", "delete", "simple_history")
            }:
                assert name in EXTRA_ADMIN_VIEWS, f"admin view {name} has no row in the access matrix"
    return out


def test_every_route_is_classified():
    """A new page or endpoint must be added to the matrix before it can ship."""
    admin_site_routes = {"admin/" + route for route, _ in _walk(admin.site.urls[0])}
    for route, name in routes():
        if route in admin_site_routes:
            continue  # generated by a registered ModelAdmin or the admin site itself: tested above
        if route.startswith("api/v1/^") or route.startswith("api/v1/") and name and name.startswith("research-"):
            continue
        assert route in NON_ADMIN_ROUTES, f"route {route!r} ({name}) has no row in the access matrix"


def test_admin_pages_by_persona(world):
    failures = []
    for persona, url, _method, expected, why in _admin_requests(world):
        status = world["clients"][persona].get(url).status_code
        if status not in expected:
            failures.append(f"{persona:12} {url} -> {status}, expected {sorted(expected)} ({why})")
    assert not failures, "\n".join(failures)


def test_admin_site_pages_by_persona(world):
    site_pages = {"admin:index": (), "admin:password_change": (), "admin:password_change_done": (), "admin:jsi18n": ()}
    for name, args in site_pages.items():
        url = reverse(name, args=args)
        for persona in PERSONAS:
            status = world["clients"][persona].get(url).status_code
            if persona in ("coord_a", "coord_b", "admin"):
                assert status == 200, (persona, url, status)
            else:
                assert status == 302, (persona, url, status)
    for persona in ("coord_a", "admin"):
        assert world["clients"][persona].get("/admin/registry/").status_code == 200
        assert world["clients"][persona].get("/admin/no-such-page/").status_code == 404
    assert world["clients"]["coord_a"].get("/admin/auth/").status_code == 404  # no model of auth is theirs
    assert world["clients"]["anonymous"].get("/admin/registry/").status_code == 302


def test_research_api_by_persona(world, site_a):
    objects = world["objects"]
    from research.models import EpisodePseudonym
    from tests.research.conftest import release_at_small_k, second_subject

    # A site's rows are released once it holds k subjects (research/kanon.py): site A gets a second, at k=2.
    release_at_small_k(site_a)
    second_subject(site_a)

    ids = {k: EpisodePseudonym.objects.filter(episode=objects[k]["registry.treatmentepisode"]).first() for k in "AB"}
    lists = [route for route, name in routes() if name and name.startswith("research-") and "detail" not in name]
    assert len(lists) >= 8
    for route in lists:
        url = "/" + route.replace("^", "").replace("$", "")
        for persona in PERSONAS:
            status = world["clients"][persona].get(url).status_code
            if persona == "researcher_a":
                # The score summary needs an instrument and a score: without them, a 400 that says which.
                assert status == (400 if route.startswith("api/v1/summaries/scores/") else 200), (url, status)
            else:
                assert status == 401, (persona, url, status)  # sessions do not open the API: only a key does
    detail = "/api/v1/treatments/{}/"
    if ids["A"] is not None:
        assert world["clients"]["researcher_a"].get(detail.format(ids["A"].pseudonym)).status_code == 200
    if ids["B"] is not None:
        assert world["clients"]["researcher_a"].get(detail.format(ids["B"].pseudonym)).status_code == 404
    assert world["clients"]["researcher_a"].get(detail.format("E-0000000000")).status_code == 404
    scores = world["clients"]["researcher_a"].get("/api/v1/scores/?format=csv")
    body = b"".join(scores.streaming_content) if scores.streaming else scores.content
    assert b"SITEA" in body and b"SITEB" not in body


def test_patient_pages_by_persona(world):
    for url in ("/p/q/", "/p/q/1/", "/p/q/summary/", "/p/q/thanks/"):
        for persona in PERSONAS:
            status = world["clients"][persona].get(url).status_code
            if persona == "patient_b":
                assert status == 200, (url, status)  # their questionnaire, a page, what is left, the thanks page
            else:
                assert status == 404, (persona, url, status)  # no link, no questionnaire: not even staff
    page = world["clients"]["patient_b"].get("/p/q/1/").content.decode()
    assert "Site B clinic" in page and "Right knee, 3 months after your treatment" in page
    assert "Site A clinic" not in page
    # The consent page asks only a patient whose consent is still to be given: patient B's is recorded.
    for persona in PERSONAS:
        status = world["clients"][persona].get("/p/q/consent/").status_code
        assert status == (303 if persona == "patient_b" else 404), (persona, status)
    for persona in PERSONAS:
        assert world["clients"][persona].get("/p/" + "Q" * 43 + "/").status_code == 404
        assert world["clients"][persona].get("/p/withdraw/" + "Q" * 43 + "/").status_code == 404
        # The language switch is the session patient's alone.
        status = world["clients"][persona].post("/p/language/", {"language": "en"}).status_code
        assert status == (303 if persona == "patient_b" else 404), (persona, status)
    # The withdraw link is its own key: the token of B's email, whoever opens it, shows B's site's page only.
    page = world["clients"]["anonymous"].get(f"/p/withdraw/{world['token_b']}/")
    assert page.status_code == 200 and "Site B clinic" in page.content.decode()
    # The patient's session opens nothing of the staff side or the API.
    assert world["clients"]["patient_b"].get("/admin/registry/patient/").status_code == 302
    assert world["clients"]["patient_b"].get("/api/v1/scores/").status_code == 401


def test_health_and_root(world):
    for persona in PERSONAS:
        assert world["clients"][persona].get("/healthz").status_code == 200
        assert world["clients"][persona].get("/").status_code == 302


def test_answers_cannot_be_entered_into_another_sites_follow_up(world):
    theirs = world["objects"]["B"]["outcomes.followup"]
    url = reverse("admin:outcomes_followup_enter", args=[theirs.pk, "koos"])
    data = {f"item_{c}": "1" for c in all_items("koos", 1)}
    assert world["clients"]["coord_a"].post(url, data).status_code == 404
    assert not Response.objects.filter(follow_up=theirs, instrument="koos").exists()


def test_only_the_registry_administrator_sets_passwords(world, alice):
    url = reverse("admin:auth_user_password_change", args=[alice.pk])
    expected = {"anonymous": 302, "patient_b": 302, "researcher_a": 302, "coord_a": 403, "coord_b": 403, "admin": 200}
    for persona, status in expected.items():
        assert world["clients"][persona].get(url).status_code == status, persona


def _site_staff_only(world, url: str, owner: str) -> None:
    """The page's own site's staff and the administrator see it; other staff get 404, the rest the login."""
    for persona in PERSONAS:
        status = world["clients"][persona].get(url).status_code
        if persona in ("anonymous", "patient_b", "researcher_a"):
            assert status == 302, (persona, url, status)
        elif persona in (owner, "admin"):
            assert status == 200, (persona, url, status)
        else:
            assert status == 404, (persona, url, status)


def test_answer_entry_pages_by_persona(world):
    for site, owner in (("A", "coord_a"), ("B", "coord_b")):
        fu = world["objects"][site]["outcomes.followup"]
        _site_staff_only(world, reverse("admin:outcomes_followup_enter", args=[fu.pk, "koos"]), owner)


def test_double_entry_resolution_by_persona(world, alice, bob):
    """The side-by-side page of a paper form keyed twice: the site's own staff only."""
    from outcomes.models import DoubleEntry

    for site, owner, first in (("A", "coord_a", alice), ("B", "coord_b", bob)):
        fu = world["objects"][site]["outcomes.followup"]
        second = factories.staff_user(f"second_{site}", fu.episode.patient.site)
        DoubleEntry.objects.create(
            follow_up=fu,
            instrument="vas",
            first_answers={"vas_mm": 10},
            first_completed_on=fu.window_opens,
            first_by=first,
            first_at=fu.created_at,
            second_answers={"vas_mm": 11},
            second_completed_on=fu.window_opens,
            second_by=second,
            second_at=fu.created_at,
        )
        _site_staff_only(world, reverse("admin:outcomes_followup_resolve", args=[fu.pk, "vas"]), owner)


def test_call_log_resume_and_resend_by_persona(world):
    """Recording a call, resuming an ended follow-up, resending a link: POSTs for the site's own staff only.
    Another site's staff get 404 and nothing is recorded; the rest are sent to the login."""
    from outcomes.models import CallAttempt

    for site, owner in (("A", "coord_a"), ("B", "coord_b")):
        fu = world["objects"][site]["outcomes.followup"]
        for step in ("call", "resume", "resend"):
            url = reverse(f"admin:outcomes_followup_{step}", args=[fu.pk])
            for persona in PERSONAS:
                before = CallAttempt.objects.count()
                response = world["clients"][persona].post(url, {"outcome": "no_answer", "reason": "test"})
                recorded = CallAttempt.objects.count() - before
                if persona in ("anonymous", "patient_b", "researcher_a"):
                    assert response.status_code == 302 and "/login/" in response["Location"], (persona, url)
                    assert recorded == 0
                elif persona in (owner, "admin"):
                    assert response.status_code == 302 and "/login/" not in response["Location"], (persona, url)
                    assert recorded == (1 if step == "call" else 0), (persona, url)
                else:
                    assert response.status_code == 404, (persona, url, response.status_code)
                    assert recorded == 0


def test_importing_a_dry_run_s_rows_by_persona(world, monkeypatch):
    """ "Import these rows" after a dry run: a POST for the site's own staff only; another site's staff get 404 and
    nothing is queued; the rest are sent to the login."""
    from outcomes import queue

    queued = []
    monkeypatch.setattr(queue, "import_run_soon", queued.append)
    for site, owner in (("A", "coord_a"), ("B", "coord_b")):
        run = world["objects"][site]["outcomes.importrun"]
        url = reverse("admin:outcomes_importrun_commit", args=[run.pk])
        for persona in PERSONAS:
            response = world["clients"][persona].post(url)
            if persona in ("anonymous", "patient_b", "researcher_a"):
                assert response.status_code == 302 and "/login/" in response["Location"], (persona, url)
            elif persona in (owner, "admin"):
                # The matrix's run is no finished dry run: refused with a message, back to its page.
                assert response.status_code == 302 and "/login/" not in response["Location"], (persona, url)
            else:
                assert response.status_code == 404, (persona, url, response.status_code)
    assert queued == []


def test_tablet_and_planned_treatment_pages_by_persona(world):
    """Handing over the clinic tablet, marking a treatment done or cancelling it: the site's own staff only."""
    for site, owner in (("A", "coord_a"), ("B", "coord_b")):
        urls = [
            reverse("admin:outcomes_followup_tablet", args=[world["objects"][site]["outcomes.followup"].pk]),
            reverse("admin:registry_episode_done", args=[world["objects"][site]["registry.treatmentepisode"].pk]),
            reverse("admin:registry_episode_cancel", args=[world["objects"][site]["registry.treatmentepisode"].pk]),
        ]
        for url in urls:
            _site_staff_only(world, url, owner)


def test_the_tablet_screens_name_nobody(world):
    for persona in PERSONAS:
        done = world["clients"][persona].get("/p/tablet/done/")
        assert done.status_code == 200 and b"hand the tablet back" in done.content
        ended = world["clients"][persona].get("/p/tablet/end/")  # no tablet session: nothing is ended
        assert ended.status_code == 410
        for page in (done, ended):
            assert b"Site A clinic" not in page.content and b"Site B clinic" not in page.content
            assert b"Aardvark" not in page.content and b"Bandicoot" not in page.content
    assert world["clients"]["patient_b"].get("/p/q/1/").status_code == 200  # a link's session is not ended


def test_the_text_reply_webhook_takes_the_provider_s_signature_only(world, settings):
    settings.TWILIO_AUTH_TOKEN = "twilio-test-auth-token"
    before = EmailOptOut.objects.count()
    for persona in PERSONAS:
        client = world["clients"][persona]
        assert client.get("/p/texts/inbound/twilio/").status_code == 405
        response = client.post("/p/texts/inbound/twilio/", {"From": "+15555550100", "Body": "STOP"})
        assert response.status_code == 403, persona  # a staff or patient session is no signature
    assert EmailOptOut.objects.count() == before


def test_patient_rights_pages_by_persona(world):
    for site, owner in (("A", "coord_a"), ("B", "coord_b")):
        patient = world["objects"][site]["registry.patient"]
        for name in ("admin:registry_patient_export", "admin:registry_patient_anonymise"):
            url = reverse(name, args=[patient.pk])
            for persona in PERSONAS:
                status = world["clients"][persona].get(url).status_code
                if persona in ("anonymous", "patient_b", "researcher_a"):
                    assert status == 302, (persona, url, status)
                elif persona in (owner, "admin"):
                    assert status == 200, (persona, url, status)
                else:
                    assert status == 404, (persona, url, status)


def test_only_the_registry_administrator_exports_the_audit_trail(world):
    expected = {"anonymous": 302, "patient_b": 302, "researcher_a": 302, "coord_a": 403, "coord_b": 403, "admin": 200}
    for persona, status in expected.items():
        assert world["clients"][persona].get("/admin/audit/export/").status_code == status, persona
    response = world["clients"]["admin"].get("/admin/audit/export/")
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0] == "record,object_id,history_id,change,when,by,reason,values"
    assert "patient," in body and "Aardvark" in body and "alice" in body


def test_the_language_choice_reads_and_changes_no_data(world):
    """Anyone may choose the staff pages' language (Django's set_language): a cookie, a redirect on the site, no
    row read or written, and never a patient's preferred language."""
    from registry.models import PatientIdentity

    before = list(PatientIdentity.objects.values_list("pk", "preferred_language"))
    for persona in PERSONAS:
        client = world["clients"][persona]
        response = client.post("/i18n/setlang/", {"language": "ko", "next": "/admin/"})
        assert response.status_code == 302 and response["Location"] == "/admin/", persona
        assert response.cookies["django_language"].value == "ko", persona
        assert client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"}).status_code == 302
        assert client.get("/i18n/setlang/").status_code in (302, 405), persona  # GET changes nothing
    assert list(PatientIdentity.objects.values_list("pk", "preferred_language")) == before


def test_two_factor_self_service_by_persona(world):
    expected = {"anonymous": 302, "patient_b": 302, "researcher_a": 302, "coord_a": 200, "coord_b": 200, "admin": 200}
    for persona, status in expected.items():
        assert world["clients"][persona].get("/admin/account/two-factor/").status_code == status, persona


def test_fhir_endpoints_by_persona(world):
    """FHIR: metadata for anyone; staff reads for staff sessions, own site's patients only (404 for another site's,
    as an OperationOutcome); the researcher's key opens $export and nothing of the staff side."""
    patient_a = world["objects"]["A"]["registry.patient"].registry_id
    staff = {"anonymous": 401, "patient_b": 401, "researcher_a": 401, "coord_a": 200, "coord_b": 200, "admin": 200}
    own_a = {**staff, "coord_b": 404}
    for persona in PERSONAS:
        client = world["clients"][persona]
        assert client.get("/fhir/metadata").status_code == 200, persona
        for url in ("/fhir/Questionnaire", "/fhir/Questionnaire/koos"):
            assert client.get(url).status_code == staff[persona], (persona, url)
        for url in (
            f"/fhir/Patient/{patient_a}",
            f"/fhir/QuestionnaireResponse?patient=Patient/{patient_a}",
            f"/fhir/Observation?patient={patient_a}",
        ):
            response = client.get(url)
            assert response.status_code == own_a[persona], (persona, url, response.status_code)
            if response.status_code != 200:
                assert response.json()["resourceType"] == "OperationOutcome"
        kickoff = client.get("/fhir/$export", headers={"Prefer": "respond-async"})
        assert kickoff.status_code == (202 if persona == "researcher_a" else 401), persona
        unknown = "00000000-0000-0000-0000-000000000000"
        for url in (f"/fhir/$export-status/{unknown}", f"/fhir/$export-files/{unknown}/Patient.ndjson"):
            assert client.get(url).status_code == (404 if persona == "researcher_a" else 401), (persona, url)
        # Posting answers takes a site's integration key: no session, no researcher key.
        posted = client.post("/fhir/QuestionnaireResponse", "{}", content_type="application/fhir+json")
        assert posted.status_code == {"coord_a": 403, "coord_b": 403, "admin": 403}.get(persona, 401), persona
