"""/fhir/: the FHIR R4 endpoints. Every answer is `application/fhir+json`; every refusal an OperationOutcome.

Who may call what:
- `GET metadata`: anyone (the CapabilityStatement, as FHIR servers publish it).
- Staff reads (Questionnaire, Patient, QuestionnaireResponse and Observation searches): a staff session, or a
  site's integration key (`Authorization: Bearer ik_...`); patients of the caller's own sites only
  (`registry.access`), another site's patient is "not found" (404).
- `POST QuestionnaireResponse`: a site's integration key only (no session, hence no CSRF token to carry).
- `$export` and its status and files: a researcher's API key of the rows tier (`Authorization: Bearer rk_...` or
  `Token rk_...`), de-identified by the research release rules (research.access, research.deid); a summary key
  gets 403 naming its tier. Every such request made with a key is logged (research.RowRequest).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from interop import fhir, services, tasks
from interop.models import BulkExport, ExportStatus, IntegrationKey
from interop.services import FhirRefused, registry_id_shaped
from outcomes.models import Response, Score
from registry.access import sites_visible_to
from registry.models import Patient
from research.api.authentication import tier_refusal
from research.models import ApiKey
from research.services import api_key_find, api_key_touch, row_request_log

NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = {NDJSON, "application/ndjson", "ndjson"}
MAX_BODY = 1024 * 1024  # a QuestionnaireResponse is a few kB; a megabyte is a mistake or an attack


def fhir_response(resource: dict[str, Any], status: int = 200, **headers: str) -> JsonResponse:
    response = JsonResponse(resource, status=status, content_type=fhir.CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def refusal(exc: FhirRefused) -> JsonResponse:
    response = fhir_response(exc.outcome(), exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="fhir"'
    return response


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/fhir/")


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


class Caller:
    """Who is asking: a staff member (session) or a site's integration key."""

    def __init__(self, user: Any = None, key: IntegrationKey | None = None) -> None:
        self.user, self.key = user, key

    def patients(self) -> Any:
        if self.key is not None:
            return Patient.objects.filter(site=self.key.site)
        return Patient.objects.filter(site__in=sites_visible_to(self.user))


def staff_caller(request: HttpRequest) -> Caller:
    raw = _bearer(request)
    if raw is not None:
        key = services.integration_key_find(raw_key=raw)
        if key is None:
            raise FhirRefused(401, "Invalid or revoked integration key.", "login")
        return Caller(key=key)
    user = request.user
    if user.is_authenticated and user.is_active and user.is_staff:
        return Caller(user=user)
    raise FhirRefused(401, "Log in as staff, or send the site's integration key: Authorization: Bearer ik_...", "login")


def research_key(request: HttpRequest) -> ApiKey:
    raw = _bearer(request)
    key = api_key_find(raw_key=raw) if raw else None
    if key is None or not key.is_usable:
        raise FhirRefused(401, "A usable researcher API key is required: Authorization: Bearer rk_...", "login")
    api_key_touch(key=key)
    request._research_key = key  # type: ignore[attr-defined]  # for rows_logged
    if not key.reads_rows:
        refusal = tier_refusal(key)
        raise FhirRefused(403, f"{refusal['detail']} It may read: {', '.join(refusal['may_read'])}.", "forbidden")
    return key


def rows_logged(view: Callable) -> Callable:
    """Log each request of a Bulk export endpoint made with a researcher key, whatever the answer (outside
    fhir_view, so a refusal's status is logged too)."""

    @functools.wraps(view)  # keeps fhir_view's csrf_exempt
    def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        key = getattr(request, "_research_key", None)
        if key is not None:
            row_request_log(
                key=key,
                method=request.method or "",
                path=request.path,
                query=request.META.get("QUERY_STRING", ""),
                status=response.status_code,
            )
        return response

    return inner


def fhir_view(*methods: str) -> Callable:
    """Allowed methods, and FhirRefused answered as an OperationOutcome."""

    def wrap(view: Callable) -> Callable:
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods and not (request.method == "HEAD" and "GET" in methods):
                outcome = fhir.operation_outcome(f"{request.method} is not supported here.", "not-supported")
                response = fhir_response(outcome, 405)
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except FhirRefused as exc:
                return refusal(exc)

        inner.__name__ = view.__name__
        inner.__doc__ = view.__doc__
        return csrf_exempt(inner)

    return wrap


@fhir_view("GET")
def metadata(request: HttpRequest) -> HttpResponse:
    return fhir_response(fhir.capability_statement(base_url(request), today=timezone.localdate()))


@fhir_view("GET")
def questionnaire_search(request: HttpRequest) -> HttpResponse:
    staff_caller(request)
    url = request.GET.get("url")
    ids = fhir.questionnaire_ids()
    if url:
        found = fhir.instrument_for_canonical(url)
        ids = [found] if found else []
    return fhir_response(fhir.bundle((fhir.questionnaire(i) for i in ids), base_url(request)))


@fhir_view("GET")
def questionnaire_read(request: HttpRequest, fhir_id: str) -> HttpResponse:
    staff_caller(request)
    instrument = fhir.instrument_for_id(fhir_id)
    if instrument is None:
        raise FhirRefused(404, f"No Questionnaire {fhir_id!r}.", "not-found")
    return fhir_response(fhir.questionnaire(instrument))


def _patient(caller: Caller, reference: str | None) -> Patient:
    if not reference:
        raise FhirRefused(400, "Search by patient: ?patient=Patient/<registry ID>.", "required")
    registry_id = reference.removeprefix("Patient/")
    patient = (
        caller.patients().select_related("site", "identity").filter(registry_id=registry_id).first()
        if registry_id_shaped(registry_id)
        else None  # e.g. a NUL byte, which PostgreSQL refuses in a query: the same not-found answer
    )
    if patient is None:  # unknown, or another site's: the same answer
        raise FhirRefused(404, f"No patient {registry_id!r} among yours.", "not-found")
    return patient


@fhir_view("GET")
def patient_read(request: HttpRequest, registry_id: str) -> HttpResponse:
    patient = _patient(staff_caller(request), registry_id)
    return fhir_response(fhir.patient_resource(patient))


def _responses(patient: Patient) -> Any:
    return Response.objects.filter(follow_up__episode__patient=patient).select_related("follow_up__episode__patient")


@fhir_view("GET", "POST")
def questionnaire_response(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _receive(request)
    patient = _patient(staff_caller(request), request.GET.get("patient"))
    resources = (fhir.questionnaire_response(r) for r in _responses(patient).order_by("completed_at", "pk"))
    return fhir_response(fhir.bundle(resources, base_url(request)))


def _receive(request: HttpRequest) -> HttpResponse:
    caller = staff_caller(request)
    if caller.key is None:
        raise FhirRefused(
            403, "Answers are posted with the site's integration key (Authorization: Bearer).", "forbidden"
        )
    if len(request.body) > MAX_BODY:
        raise FhirRefused(413, "The body is too large for a QuestionnaireResponse.", "too-costly")
    try:
        resource = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise FhirRefused(400, f"The body is not valid JSON: {exc}.", "structure") from None
    response = services.questionnaire_response_receive(key=caller.key, resource=resource)
    response = Response.objects.select_related("follow_up__episode__patient").get(pk=response.pk)
    created = fhir.questionnaire_response(response)
    return fhir_response(created, 201, Location=f"{base_url(request)}QuestionnaireResponse/{created['id']}")


@fhir_view("GET")
def observation_search(request: HttpRequest) -> HttpResponse:
    patient = _patient(staff_caller(request), request.GET.get("patient"))
    scores = list(
        Score.objects.filter(follow_up__episode__patient=patient)
        .select_related("follow_up__episode__patient", "response")
        .order_by("follow_up__target_date", "instrument", "key")
    )
    resources = [*(fhir.score_observation(s) for s in scores), *fhir.panel_observations(scores)]
    return fhir_response(fhir.bundle(resources, base_url(request)))


# Bulk Data export ---------------------------------------------------------------------------------------------

_EXPORT_PARAMS = {"_type", "_outputFormat"}


@rows_logged
@fhir_view("GET")
def export_kickoff(request: HttpRequest) -> HttpResponse:
    """Bulk Data kick-off (system level): 202 and the status URL in Content-Location."""
    key = research_key(request)
    if "respond-async" not in request.headers.get("Prefer", ""):
        raise FhirRefused(400, "Bulk Data export is asynchronous: send Prefer: respond-async.", "required")
    unknown = sorted(set(request.GET) - _EXPORT_PARAMS)
    if unknown:
        raise FhirRefused(400, f"Unsupported parameter {unknown[0]} (this server takes _type and _outputFormat).")
    output_format = request.GET.get("_outputFormat", NDJSON)
    if output_format not in OUTPUT_FORMATS:
        raise FhirRefused(400, f"Unsupported _outputFormat {output_format!r}: only {NDJSON}.", "not-supported")
    types = [t for t in request.GET.get("_type", ",".join(services.EXPORT_TYPES)).split(",") if t]
    unknown_types = [t for t in types if t not in services.EXPORT_TYPES]
    if unknown_types or not types:
        offered = ", ".join(services.EXPORT_TYPES)
        raise FhirRefused(400, f"Unsupported _type {','.join(unknown_types)!r}: this export offers {offered}.")
    with transaction.atomic():
        export = services.bulk_export_start(key=key, request_url=request.build_absolute_uri(), types=types)
        tasks.build_bulk_export.delay_on_commit(str(export.pk))
    response = HttpResponse(status=202)
    response["Content-Location"] = f"{base_url(request)}$export-status/{export.pk}"
    return response


def _own_export(request: HttpRequest, export_id: Any) -> BulkExport:
    key = research_key(request)
    export = BulkExport.objects.filter(pk=export_id, api_key=key).first()
    if export is None:
        raise FhirRefused(404, "No such export for this key.", "not-found")
    return export


@rows_logged
@fhir_view("GET", "DELETE")
def export_status(request: HttpRequest, export_id: Any) -> HttpResponse:
    export = _own_export(request, export_id)
    if request.method == "DELETE":
        services.bulk_export_delete(export=export)
        return HttpResponse(status=202)
    if export.status == ExportStatus.IN_PROGRESS:
        response = HttpResponse(status=202)
        response["X-Progress"] = "in progress"
        response["Retry-After"] = "5"
        return response
    if export.status == ExportStatus.FAILED:
        raise FhirRefused(500, f"The export failed: {export.error or 'see the worker log'}.", "exception")
    return JsonResponse(services.bulk_manifest(export, base_url(request)), headers={"Cache-Control": "no-store"})


@rows_logged
@fhir_view("GET")
def export_file(request: HttpRequest, export_id: Any, resource_type: str) -> HttpResponse:
    export = _own_export(request, export_id)
    listed = {f["type"] for f in export.files}
    if export.status != ExportStatus.DONE or resource_type not in listed:
        raise FhirRefused(404, f"No {resource_type} file in this export.", "not-found")
    path = services.export_file(export, resource_type)
    if not path.exists():
        raise FhirRefused(404, f"The {resource_type} file of this export is no longer kept: export again.", "not-found")
    response = FileResponse(path.open("rb"), content_type=NDJSON)
    response["Cache-Control"] = "no-store"
    return response
