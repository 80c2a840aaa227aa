"""Views of the research API. Every one reads through `research.access.research_queryset` with the
request's key, shapes rows with the column lists of `research.deid`, and answers JSON (cursor pages) or,
for lists, a file of the whole filtered list: CSV streamed by `research.export`, or SPSS .sav and Stata .dta
labelled from the dictionary by `research.labelled`."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib import parse

import django_filters
from django.conf import settings
from django.db import models
from django.http import Http404, HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import replace_query_param

from registry import csvsafe
from registry.models import Administration
from research import deid, export, kanon, labelled
from research.access import research_queryset
from research.api import cursors
from research.api import serializers as s
from research.api.authentication import (
    EXPORT_FORMATS,
    ApiKeyAuthentication,
    HasResearchKey,
    HasRowsTier,
    ResearchCsvThrottle,
    ResearchKeyThrottle,
)
from research.api.filters import (
    EpisodeFilterSet,
    IntegerFilter,
    ScoreFilterSet,
    StrictFilterBackend,
    reject_unknown_parameters,
)
from research.datapackage import data_package
from research.dbrouter import research_reads_begin, research_reads_end
from research.dbsettings import local_settings
from research.dictionary import CSV_FIELDS, data_dictionary, dictionary_rows
from research.models import ApiKey
from research.services import pseudonyms_assign, row_request_log
from research.summaries.scores import score_summary
from research.summaries.survival import arthroplasty_summary


class CSVRenderer(BaseRenderer):
    """text/csv (`?format=csv` or `Accept: text/csv`). Lists stream their CSV themselves (see export.py); an
    error is answered in JSON (see ResearchAPIMixin.handle_exception), so this renders nothing else."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return json.dumps(data).encode()


class LabelledFileRenderer(BaseRenderer):
    """A labelled file (`?format=sav|dta` or its media type in Accept). Lists write it themselves (see
    research/labelled.py); an error is answered in JSON, like the CSV's."""

    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return json.dumps(data).encode()


class SavRenderer(LabelledFileRenderer):
    media_type = labelled.SAV.media_type
    format = labelled.SAV.name


class DtaRenderer(LabelledFileRenderer):
    media_type = labelled.DTA.media_type
    format = labelled.DTA.name


class ResearchCursorPagination(CursorPagination):
    """Cursor pages in a stable order (the dataset's ordering key); 1000 rows by default, up to 10,000. The
    cursor is opaque: sealed (research/api/cursors.py), it carries no database id."""

    page_size = 1000
    page_size_query_param = "page_size"
    max_page_size = 10000

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        return (view.order_key,)

    def decode_cursor(self, request: Request) -> Any:
        """The sealed cursor (research/api/cursors.py) opened; anything else is a bad parameter (DRF says 404)."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        invalid = ValidationError({self.cursor_query_param: ["Invalid cursor: use the 'next' link of a page."]})
        try:
            tokens = parse.parse_qs(cursors.unseal(encoded), keep_blank_values=True)
        except (cursors.BadCursor, ValueError):
            raise invalid from None
        offset, reverse, position = tokens.get("o", ["0"])[0], tokens.get("r", ["0"])[0], tokens.get("p", [None])[0]
        # Sealed by us, so well formed; checked all the same (a leaked SECRET_KEY must not turn into a 500): the
        # position is a row's ordering key, a whole number, and the offset a small one.
        if not re.fullmatch(r"[0-9]{1,4}", offset) or reverse not in ("0", "1"):
            raise invalid
        if position is not None and not re.fullmatch(r"[0-9]{1,18}", position):
            raise invalid
        return Cursor(offset=min(int(offset), self.offset_cutoff), reverse=reverse == "1", position=position)

    def encode_cursor(self, cursor: Any) -> str:
        """A link to the page at `cursor`, its position sealed: no database id can be read from it."""
        tokens = {}
        if cursor.offset != 0:
            tokens["o"] = str(cursor.offset)
        if cursor.reverse:
            tokens["r"] = "1"
        if cursor.position is not None:
            tokens["p"] = cursor.position
        sealed = cursors.seal(parse.urlencode(tokens, doseq=True))
        return replace_query_param(self.base_url, self.cursor_query_param, sealed)

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise ValidationError({"page_size": f"{raw!r} is not a whole number."}) from None
        if not 1 <= size <= self.max_page_size:
            raise ValidationError({"page_size": f"page_size must be between 1 and {self.max_page_size}."})
        return size

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list | None:
        # A page is read along an index in order and stops after a few hundred rows: PostgreSQL's parallel
        # workers take longer to start (about 20 ms at 100,000 patients) than such a page takes to read.
        with local_settings(queryset.db, max_parallel_workers_per_gather=0):
            return super().paginate_queryset(queryset, request, view)


def requested_format(request: Request) -> str | None:
    return getattr(getattr(request, "accepted_renderer", None), "format", None)


def wants_csv(request: Request) -> bool:
    return requested_format(request) == "csv"


def wants_file(request: Request) -> bool:
    """CSV, .sav or .dta: a whole list as one file."""
    return requested_format(request) in EXPORT_FORMATS


def file_response(request: Request, rows: models.QuerySet, columns: Any, order_key: str, name: str) -> Any:
    """The whole filtered list in the requested file format: CSV streamed, .sav or .dta labelled."""
    fmt = requested_format(request)
    if fmt == "csv":
        return export.csv_response(rows, columns, order_key, f"{name}.csv")
    try:
        return labelled.labelled_response(
            rows.order_by(order_key), columns, labelled.FORMATS[fmt], name, f"{name}.{fmt}"
        )
    except labelled.TooManyRows as exc:
        raise ValidationError(
            {
                "format": [
                    f"This export has more than {exc.limit} rows, the most a {labelled.FORMATS[fmt].label} file "
                    f"is built for (RESEARCH_LABELLED_MAX_ROWS): ask format=csv for the whole list (streamed, no "
                    "limit) or narrow it with filters (site, joint, timepoint, instrument, index_year_min, ...)."
                ]
            }
        ) from None


class StrictNegotiation(DefaultContentNegotiation):
    """An unknown `format` is a bad request (400 naming it), not DRF's 404."""

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> Any:
        requested = format_suffix or request.query_params.get(api_settings.URL_FORMAT_OVERRIDE)
        offered = sorted(
            {r.format for r in renderers} | ({"csv"} if any(r.format == "csv" for r in renderers) else set())
        )
        if requested and requested not in offered:
            raise ValidationError(
                {"format": [f"Unknown format {requested!r}: this endpoint offers {', '.join(offered)}."]}
            )
        return super().select_renderer(request, renderers, format_suffix)


class ResearchAPIMixin:
    """Key authentication, read-only permission, per-key rate limits, pseudonyms assigned before reading."""

    content_negotiation_class = StrictNegotiation
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasResearchKey]
    throttle_classes = [ResearchKeyThrottle, ResearchCsvThrottle]
    renderer_classes = [JSONRenderer]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        # Rows get their pseudonyms when they are created; rows that came in another way a moment ago (above
        # the newest pseudonym) get theirs now, so no row is released without one.
        pseudonyms_assign(full=False)
        # From here on, reads go to the research replica if one is configured (research/dbrouter.py).
        self._replica_reads = research_reads_begin()

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        token = getattr(self, "_replica_reads", None)
        if token is not None:
            research_reads_end(token)
            self._replica_reads = None
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The endpoint's description is JSON whatever format the query asks for (it would be labelled CSV).
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
        return super().options(request, *args, **kwargs)  # type: ignore[misc]

    def handle_exception(self, exc: Exception) -> Response:
        if wants_file(self.request):  # type: ignore[attr-defined]
            # An error is not a table: answer it in JSON whatever format was asked for.
            self.request.accepted_renderer = JSONRenderer()  # type: ignore[attr-defined]
            self.request.accepted_media_type = JSONRenderer.media_type  # type: ignore[attr-defined]
        return super().handle_exception(exc)  # type: ignore[misc]


class DatasetViewSet(ResearchAPIMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """A released dataset as a list: JSON in cursor pages, or the whole filtered list as streamed CSV or a
    labelled SPSS or Stata file. Rows tier only (a summary key gets 403 naming its tier); every request made with
    a key is logged (research.RowRequest), refusals included."""

    dataset: deid.Dataset
    permission_classes = [HasResearchKey, HasRowsTier]
    rows_returned: int | None = None
    renderer_classes = [JSONRenderer, CSVRenderer, SavRenderer, DtaRenderer]
    pagination_class = ResearchCursorPagination
    filter_backends = [StrictFilterBackend]
    filterset_class = EpisodeFilterSet

    @property
    def order_key(self) -> str:
        return self.dataset.order_by

    def get_queryset(self) -> models.QuerySet:
        # Quasi-identifiers banded and blanked over the key's whole release, and a site under k withheld
        # (research/kanon.py).
        release = kanon.release_for_key(self.request.auth)
        rows = release.withhold(research_queryset(self.dataset.model, self.request.auth))
        return self.dataset.annotate(rows, release)

    def decorate(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return rows

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        queryset = self.filter_queryset(self.get_queryset())
        rows = self.dataset.rows(queryset)
        if wants_file(request):
            return file_response(request, rows, self.dataset.columns, self.order_key, self.dataset.name)
        page = self.paginate_queryset(rows)
        self.rows_returned = len(page)
        return self.get_paginated_response(self.get_serializer(self.decorate(page), many=True).data)

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        try:
            # Authenticated by now, but for a request refused before (an unknown format): then it is done here.
            key = request.auth
        except APIException:
            key = None
        if isinstance(key, ApiKey):
            # After the replica reads have ended (ResearchAPIMixin): the log is a write, to the primary.
            row_request_log(
                key=key,
                method=request.method,
                path=request.path,
                query=request.META.get("QUERY_STRING", ""),
                status=response.status_code,
                rows=self.rows_returned if response.status_code == 200 else None,
            )
        return response


_EPISODE_ID = OpenApiParameter(
    "episode_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="Pseudonymous episode ID, e.g. E-7KQ2M9XD4P."
)


@extend_schema_view(
    list=extend_schema(summary="Treatment episodes with their administrations", tags=["research data"]),
    retrieve=extend_schema(
        summary="One treatment episode",
        tags=["research data"],
        parameters=[_EPISODE_ID],
        responses=s.TreatmentSerializer,
    ),
)
class TreatmentViewSet(mixins.RetrieveModelMixin, DatasetViewSet):
    """Treatment episodes: covariates, first administration (product, source, dose), number of administrations,
    and in JSON every administration with its preparation details."""

    dataset = deid.TREATMENTS
    serializer_class = s.TreatmentSerializer
    lookup_field = "episode_id"
    lookup_value_regex = "E-[0-9A-Z]+"

    def decorate(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # One query for the page's administrations, whatever the page size.
        by_episode: dict[int, list[dict[str, Any]]] = {row["id"]: [] for row in rows}
        nested = s.NESTED_ADMINISTRATION_COLUMNS
        administrations = (
            Administration.objects.filter(episode_id__in=list(by_episode))
            .annotate(**{c.alias: c.expression() for c in nested})
            .values("episode_id", *(c.alias for c in nested))
            .order_by("episode_id", "administered_on", "id")
        )
        for administration in administrations:
            by_episode[administration["episode_id"]].append(administration)
        for row in rows:
            row["administrations"] = by_episode[row["id"]]
        return rows

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if wants_file(request):
            fmt = requested_format(request)
            raise ValidationError(
                {
                    "format": [
                        f"A single treatment is available in JSON; for {fmt} ask the list, e.g. "
                        f"treatments/?format={fmt}."
                    ]
                }
            )
        queryset = self.filter_queryset(self.get_queryset())
        rows = list(self.dataset.rows(queryset.filter(**{deid.ALIAS_PREFIX + "episode_id": kwargs["episode_id"]}))[:1])
        if not rows:
            raise Http404("No such treatment episode.")
        self.rows_returned = 1
        return Response(self.get_serializer(self.decorate(rows)[0]).data)


@extend_schema_view(list=extend_schema(summary="Administrations and their preparation details", tags=["research data"]))
class AdministrationViewSet(DatasetViewSet):
    """Every administration (injection) with its preparation, MIBO-minded; product, source and dose filters apply
    to the administration itself."""

    dataset = deid.ADMINISTRATIONS
    serializer_class = s.AdministrationSerializer


@extend_schema_view(
    list=extend_schema(summary="Scores in long format", tags=["research data"]),
    wide=extend_schema(
        summary="Scores in wide format (one row per episode and timepoint)",
        tags=["research data"],
        responses=s.WideScoreSerializer(many=True),
    ),
)
class ScoreViewSet(DatasetViewSet):
    """Scores, one row per subject, episode, timepoint, instrument and score key, with the episode's covariates."""

    dataset = deid.SCORES
    serializer_class = s.ScoreSerializer
    filterset_class = ScoreFilterSet

    @property
    def order_key(self) -> str:
        return "follow_up_id" if self.action == "wide" else self.dataset.order_by

    @action(detail=False, url_path="wide", serializer_class=s.WideScoreSerializer)
    def wide(self, request: Request) -> Any:
        """The same scores, one row per episode and timepoint, a column per score: `<instrument>_<key>`
        (columns of the chosen instruments and keys; all when none are chosen)."""
        queryset = self.filter_queryset(self.get_queryset())
        filterset = ScoreFilterSet(request.query_params, queryset=queryset, request=request)
        filterset.is_valid()  # already validated by filter_queryset; this gives the cleaned values
        chosen = filterset.form.cleaned_data
        columns = deid.wide_score_columns(chosen.get("instrument") or None, chosen.get("key") or None)
        rows = deid.wide_rows(queryset, columns)
        if wants_file(request):
            return file_response(request, rows, [*deid.WIDE_FIXED, *columns], self.order_key, "scores_wide")
        page = self.paginate_queryset(rows)
        self.rows_returned = len(page)
        return self.get_paginated_response(s.wide_serializer(columns)(page, many=True).data)


@extend_schema_view(list=extend_schema(summary="Adverse events", tags=["research data"]))
class AdverseEventViewSet(DatasetViewSet):
    dataset = deid.ADVERSE_EVENTS
    serializer_class = s.AdverseEventSerializer


@extend_schema_view(list=extend_schema(summary="Subsequent surgeries", tags=["research data"]))
class SurgeryViewSet(DatasetViewSet):
    dataset = deid.SURGERIES
    serializer_class = s.SurgerySerializer


# Dictionary and summaries ---------------------------------------------------------------------------------


class DictionaryView(ResearchAPIMixin, generics.GenericAPIView):
    """Every column of every dataset, every instrument's items and outputs (range and direction), the
    timepoints and their windows, and the MCII thresholds with their citations. With `format=csv`: the columns
    as a table, one row per variable of each dataset (label, type, unit, codes)."""

    renderer_classes = [JSONRenderer, CSVRenderer]
    # The dictionary is small and the same for every key: not a data export, so not counted as one.
    throttle_classes = [ResearchKeyThrottle]

    @extend_schema(
        summary="Data dictionary",
        tags=["dictionary"],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description=f"format=csv: one row per variable of each dataset; columns {', '.join(CSV_FIELDS)}.",
            ),
        },
    )
    def get(self, request: Request) -> Any:
        reject_unknown_parameters(request, {"format"})
        if wants_csv(request):
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            writer = csvsafe.DictWriter(response, fieldnames=CSV_FIELDS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(dictionary_rows())
            response["Content-Disposition"] = 'attachment; filename="dictionary.csv"'
            return response
        return Response(data_dictionary(key=request.auth))


class DataPackageView(ResearchAPIMixin, generics.GenericAPIView):
    """A Frictionless Data Package (datapackage.json) describing the CSV files of every dataset: each column's
    type, label, unit, codes (enum and categories) and missing values, from the data dictionary. Save it beside
    the CSVs (treatments.csv, scores.csv, ... as the exports name them) and `frictionless validate
    datapackage.json` checks them."""

    # Like the dictionary: the same for every key, not a data export.
    throttle_classes = [ResearchKeyThrottle]

    @extend_schema(
        summary="Frictionless Data Package of the CSV files", tags=["dictionary"], responses={200: OpenApiTypes.OBJECT}
    )
    def get(self, request: Request) -> Response:
        reject_unknown_parameters(request, {"format"})
        response = Response(data_package())
        response["Content-Disposition"] = 'inline; filename="datapackage.json"'
        return response


def filterset_parameters(filterset_class: Any) -> list[OpenApiParameter]:
    """The filters of a FilterSet as OpenAPI query parameters (for views that are not lists)."""
    out = []
    for name, f in filterset_class.base_filters.items():
        help_text = f.extra.get("help_text", "")
        if isinstance(f, django_filters.MultipleChoiceFilter):
            choices = [str(c[0]) for c in f.extra.get("choices", [])] or None
            out.append(
                OpenApiParameter(name, OpenApiTypes.STR, many=True, enum=choices, description=help_text, explode=True)
            )
        elif isinstance(f, IntegerFilter):
            out.append(OpenApiParameter(name, OpenApiTypes.INT, description=help_text))
        else:
            out.append(OpenApiParameter(name, OpenApiTypes.NUMBER, description=help_text))
    return out


class _SummaryView(ResearchAPIMixin, generics.GenericAPIView):
    filter_backends = [StrictFilterBackend]
    filterset_class = EpisodeFilterSet
    query_serializer: type[serializers.Serializer]
    dataset: deid.Dataset

    @property
    def extra_parameters(self) -> list[str]:
        return list(self.query_serializer().fields)

    def get_queryset(self) -> models.QuerySet:
        return self.dataset.annotate(research_queryset(self.dataset.model, self.request.auth))

    def parameters(self, request: Request) -> tuple[models.QuerySet, dict[str, Any]]:
        queryset = self.filter_queryset(self.get_queryset())
        query = self.query_serializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return queryset, dict(query.validated_data)


class ScoreSummaryView(_SummaryView):
    """Per group and timepoint: n, mean, SD, 95% CI; mean change from baseline with its 95% CI; the share
    reaching the MCII (threshold and citation named) and, where the instrument allows, the OMERACT-OARSI responder
    share. Cells from fewer than RESEARCH_MIN_CELL_SIZE subjects are suppressed and marked. A summary-tier key gets
    the figures perturbed by cell key (research.summaries.cellkey; `disclosure_control` says which)."""

    query_serializer = s.ScoreSummaryQuerySerializer
    # The episodes, filtered on their columns; the summary joins their scores (research.summaries).
    dataset = deid.TREATMENTS

    @extend_schema(
        summary="Score summaries by group and timepoint",
        tags=["summaries"],
        parameters=[s.ScoreSummaryQuerySerializer, *filterset_parameters(EpisodeFilterSet)],
        responses={200: s.ScoreSummarySerializer, 400: OpenApiResponse(description="Invalid parameters.")},
    )
    def get(self, request: Request) -> Response:
        queryset, params = self.parameters(request)
        return Response(
            score_summary(
                queryset=queryset,
                instrument=params["instrument"],
                key=params["key"],
                group_by=params.get("group_by") or [],
                mcii_kind=params["mcii_kind"],
                timepoints=params.get("timepoint") or None,
                min_cell=settings.RESEARCH_MIN_CELL_SIZE,
                perturb=not request.auth.reads_rows,
            )
        )


class ArthroplastySummaryView(_SummaryView):
    """Time to arthroplasty: Kaplan-Meier by group with 95% CI and numbers at risk."""

    query_serializer = s.ArthroplastySummaryQuerySerializer
    dataset = deid.TREATMENTS

    @extend_schema(
        summary="Time to arthroplasty (Kaplan-Meier) by group",
        tags=["summaries"],
        parameters=[s.ArthroplastySummaryQuerySerializer, *filterset_parameters(EpisodeFilterSet)],
        responses={200: s.ArthroplastySummarySerializer, 400: OpenApiResponse(description="Invalid parameters.")},
    )
    def get(self, request: Request) -> Response:
        queryset, params = self.parameters(request)
        extra = {"days": params["days"]} if params.get("days") else {}
        return Response(
            arthroplasty_summary(
                queryset=queryset,
                group_by=params.get("group_by") or [],
                censoring=params["censoring"],
                min_cell=settings.RESEARCH_MIN_CELL_SIZE,
                today=timezone.localdate(),
                perturb=not request.auth.reads_rows,
                **extra,
            )
        )
