"""An import run: a clinic's file checked row by row, then written all at once or not at all.

1. Check (no writes): the mapping against the file's columns (and REDCap's data dictionary), then every row:
   record id, event, duplicated keys, unknown codes, dates (not a date, before birth, in the future, outside the
   follow-up's window), answers the instrument does not take. Every problem is reported with its row and column.
2. Write (one transaction, only when the check found nothing): patients with their identity, one treatment
   episode per record, and each event's answers through `outcomes.services.response_submit` with mode
   "imported", which validates and scores them with the engine as staff entry does (a score in the file is never
   read). Each row also gets an ImportKey (site, source, record, event), so a second run of the file finds its
   rows and adds nothing. Anything the services refuse becomes a problem of that row and the whole transaction
   is rolled back. A dry run writes in the same way and always rolls back: its report is exactly what the real
   run would do.

History: every row written carries the change reason "import N: FILE sha256:…" (the run keeps the full SHA-256)
and the importer as the history user.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from outcomes import services
from outcomes.imports.mapping import (
    BOOL_CODES,
    EPISODE_FIELDS,
    PATIENT_FIELDS,
    Field,
    ImportMapping,
    MappingError,
    accepts,
    instrument_item,
    mapping_load,
    mapping_parse,
)
from outcomes.imports.readers import DataDictionary, FileError, Table, read_dictionary, read_table
from outcomes.models import FollowUp, ImportKey, ImportRun, ImportStatus, Mode, Score
from outcomes.schedule import WINDOW_BY_TIMEPOINT
from registry.access import sites_visible_to
from registry.models import EpisodeStatus, Patient, PatientIdentity, Site, TreatmentEpisode, site_date

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (phase, rows done, rows in all)


def problem(row: int | None, column: str, message: str) -> dict[str, Any]:
    return {"row": row, "column": column, "message": str(message)}


def file_sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# Creating a run --------------------------------------------------------------------------------------------


def import_run_create(
    *,
    site: Site,
    user: Any,
    file_name: str,
    content: bytes,
    mapping: str | bytes | dict,
    dictionary: bytes | None = None,
    dictionary_name: str = "",
    dry_run: bool = True,
    language: str = "en",
) -> ImportRun:
    """A queued run of one file for `site`, or PermissionDenied (not the user's site) or MappingError."""
    if not sites_visible_to(user).filter(pk=site.pk).exists():
        raise PermissionDenied(_("You may import records only for your own site."))
    parsed = mapping_parse(mapping) if isinstance(mapping, dict) else mapping_load(mapping)
    if parsed.format == "redcap" and not dictionary:
        raise MappingError([_("A REDCap import needs the project's data dictionary (CSV) beside its records.")])
    data = mapping if isinstance(mapping, dict) else _as_data(mapping)
    return ImportRun.objects.create(
        site=site,
        user=user,
        file_name=file_name[-200:],
        sha256=file_sha256(content),
        dictionary_name=dictionary_name[-200:],
        source=parsed.source,
        mapping=data,
        content=content,
        dictionary=dictionary or None,
        dry_run=dry_run,
        language=language,
    )


def _as_data(text: str | bytes) -> dict:
    import json

    import yaml

    if isinstance(text, bytes):
        text = text.decode("utf-8-sig")
    try:
        return json.loads(text)
    except ValueError:
        return yaml.safe_load(text)


def import_run_commit(*, run: ImportRun, user: Any) -> ImportRun:
    """The real run of a dry run's file and mapping (the file is not uploaded again)."""
    if run.content is None:
        raise ValidationError(_("This file was imported already; its content is no longer kept."))
    return import_run_create(
        site=run.site,
        user=user,
        file_name=run.file_name,
        content=bytes(run.content),
        mapping=run.mapping,
        dictionary=bytes(run.dictionary) if run.dictionary is not None else None,
        dictionary_name=run.dictionary_name,
        dry_run=False,
        language=run.language,
    )


# Running it ------------------------------------------------------------------------------------------------


class _Rollback(Exception):
    """Leaves the write transaction without committing (a dry run, or a row refused)."""


@dataclass
class RowPlan:
    row: int
    record: str
    event: str
    timepoint: str | None
    completed_on: date | None = None
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class RecordPlan:
    record: str
    first_row: int
    patient: dict[str, tuple[Any, int]] = field(default_factory=dict)  # field -> (value, row)
    episode: dict[str, tuple[Any, int]] = field(default_factory=dict)
    rows: list[RowPlan] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)  # fields with a cell already reported

    def value(self, section: str, name: str) -> Any:
        return getattr(self, section).get(name, (None, 0))[0]


class _CellProblem(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def import_run_execute(*, run: ImportRun, progress: Progress | None = None) -> ImportRun:
    """Check and write one run (claimed first, so a redelivered task does nothing twice)."""
    claimed = ImportRun.objects.filter(pk=run.pk, status=ImportStatus.QUEUED).update(
        status=ImportStatus.CHECKING, started_at=timezone.now()
    )
    run.refresh_from_db()
    if not claimed:
        return run
    with translation.override(run.language):
        try:
            _execute(run, progress or (lambda phase, done, total: None))
        except (MappingError, FileError) as exc:
            messages = exc.problems if isinstance(exc, MappingError) else [str(exc)]
            _finish(run, ImportStatus.FAILED, [problem(None, "", m) for m in messages])
        except Exception:
            # A fault (or the task's time limit): the write transaction has rolled back, so say so on the run's
            # page instead of leaving it "writing" for ever; the traceback goes to the log.
            log.exception("Import run %s stopped", run.pk)
            stopped = _("The import stopped on an unexpected error: nothing was imported. The log has the details.")
            _finish(run, ImportStatus.FAILED, [problem(None, "", stopped)])
            raise
    return run


def _finish(run: ImportRun, status: str, report: list[dict], counts: dict | None = None) -> None:
    run.status = status
    run.report = report
    run.counts = counts or run.counts
    run.finished_at = timezone.now()
    fields = ["status", "report", "counts", "finished_at", "rows_done"]
    if run.landed:
        # The rows are in the registry now: the uploaded file (and a dry run's copy of it) is no longer kept.
        ImportRun.objects.filter(site=run.site, sha256=run.sha256).update(content=None, dictionary=None)
        run.content = run.dictionary = None
    run.save(update_fields=fields)


def _execute(run: ImportRun, progress: Progress) -> None:
    mapping = mapping_parse(run.mapping)
    table = read_table(bytes(run.content or b""), run.file_name)
    dictionary = read_dictionary(bytes(run.dictionary)) if run.dictionary is not None else None
    file_problems = check_columns(mapping, table, dictionary)
    if file_problems:
        _finish(run, ImportStatus.FAILED, file_problems)
        return
    run.rows_total = len(table.rows)
    run.save(update_fields=["rows_total"])
    records, problems = check_rows(run, mapping, table, dictionary, progress)
    counts = {"rows": len(table.rows), "records": len(records)}
    if problems:
        _finish(run, ImportStatus.DONE if run.dry_run else ImportStatus.FAILED, problems, counts)
        return
    ImportRun.objects.filter(pk=run.pk).update(status=ImportStatus.WRITING)
    problems, written = write(run, mapping, records, progress)
    counts.update(written)
    _finish(run, ImportStatus.FAILED if problems and not run.dry_run else ImportStatus.DONE, problems, counts)


def check_columns(mapping: ImportMapping, table: Table, dictionary: DataDictionary | None) -> list[dict]:
    """Problems of the whole file: columns the mapping names that the file (or the data dictionary) lacks."""
    out = []
    absent = [c for c in mapping.columns() if c not in table.columns]
    if len(absent) > 5:
        # Most of what the mapping names is not there: a different file, not a few misspelt columns.
        return [
            problem(
                None,
                "",
                _(
                    "The file lacks %(count)d of the columns the mapping names (%(names)s, ...): is it the file this "
                    "mapping is for?"
                )
                % {"count": len(absent), "names": ", ".join(absent[:3])},
            )
        ]
    for column in mapping.columns():
        if column not in table.columns:
            out.append(
                problem(
                    None,
                    column,
                    _("The mapping names the column %(column)s, which the file does not have.") % {"column": column},
                )
            )
    if dictionary is not None:
        items = {c for imap in mapping.instruments.values() for c in imap.items.values()}
        for column in mapping.columns():
            if column in (mapping.record, mapping.event) or column not in table.columns:
                continue
            found, _choice = dictionary.field_of(column)
            if found is None:
                out.append(
                    problem(None, column, _("%(column)s is not a field of the data dictionary.") % {"column": column})
                )
            elif found.type == "calc" and column in items:
                out.append(
                    problem(
                        None,
                        column,
                        _(
                            "%(column)s is a calculated field: scores are computed by the registry from the answers, "
                            "so map the items, not a score."
                        )
                        % {"column": column},
                    )
                )
    return out


def _convert(spec: Field, row: dict[str, Any], kind: Any, mapping: ImportMapping) -> Any:
    """One registry field's value from a row (None when blank), or _CellProblem."""
    # A constant of the mapping ({value: ...}) is read as a cell would be: a date as a date, a yes/no as a bool.
    raw = spec.value if spec.column is None else row.get(spec.column, "")
    if raw == "" or raw is None:
        return None
    if isinstance(raw, bool):
        raw = "1" if raw else "0"
    if spec.codes is not None:
        if str(raw) not in spec.codes:
            raise _CellProblem(
                _("Unknown code “%(code)s”: the mapping knows %(codes)s.")
                % {"code": str(raw), "codes": ", ".join(spec.codes)}
            )
        return spec.codes[str(raw)]
    if kind == "date":
        return _date(raw, mapping)
    if kind == "bool":
        if str(raw).lower() not in BOOL_CODES:
            raise _CellProblem(_("“%(value)s” is not a yes/no value (1/0, yes/no).") % {"value": str(raw)})
        return BOOL_CODES[str(raw).lower()]
    if kind == "int":
        try:
            return int(str(raw))
        except ValueError:
            raise _CellProblem(_("“%(value)s” is not a whole number.") % {"value": str(raw)}) from None
    if kind == "decimal":
        try:
            return Decimal(str(raw))
        except InvalidOperation:
            raise _CellProblem(_("“%(value)s” is not a number.") % {"value": str(raw)}) from None
    if isinstance(kind, tuple):
        if str(raw) not in kind:
            raise _CellProblem(
                _("Unknown code “%(code)s”: map it with codes (the registry's values: %(known)s).")
                % {"code": str(raw), "known": ", ".join(kind)}
            )
        return str(raw)
    return str(raw)


def _date(raw: Any, mapping: ImportMapping) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    try:
        return datetime.strptime(str(raw), mapping.date_format).date()
    except ValueError:
        raise _CellProblem(
            _("“%(value)s” is not a date written as %(format)s.") % {"value": str(raw), "format": mapping.date_format}
        ) from None


def _answer(imap: Any, item_code: str, raw: Any) -> Any:
    item = instrument_item(imap.instrument, item_code)
    codes = imap.codes_for(item_code)
    text = str(raw)
    if codes:
        if text not in codes:
            raise _CellProblem(
                _("Unknown code “%(code)s” for %(instrument)s %(item)s: the mapping knows %(codes)s.")
                % {"code": text, "instrument": imap.instrument, "item": item_code, "codes": ", ".join(codes)}
            )
        value = codes[text]
    elif item.kind == "choice" and item.values and isinstance(item.values[0], str):
        value = text
    else:
        try:
            number = float(text)
        except ValueError:
            raise _CellProblem(
                _("“%(value)s” is not an answer of %(instrument)s %(item)s.")
                % {"value": text, "instrument": imap.instrument, "item": item_code}
            ) from None
        value = int(number) if number.is_integer() and item.kind != "decimal" else number
    if value is not None and not accepts(item, value):
        takes = ", ".join(str(v) for v in item.values) if item.kind == "choice" else f"{item.min} to {item.max}"
        raise _CellProblem(
            _("%(value)s is out of range for %(instrument)s %(item)s, which takes %(takes)s.")
            % {"value": value, "instrument": imap.instrument, "item": item_code, "takes": takes}
        )
    return value


def check_rows(
    run: ImportRun,
    mapping: ImportMapping,
    table: Table,
    dictionary: DataDictionary | None,
    progress: Progress,
) -> tuple[list[RecordPlan], list[dict]]:
    """Every row read and checked: the records to write, and every problem by row and column."""
    problems: list[dict] = []
    records: dict[str, RecordPlan] = {}
    seen: dict[tuple[str, str], int] = {}
    total = len(table.rows)
    step = max(1, total // 50)
    for done, (number, row) in enumerate(table.rows, start=1):
        _check_row(mapping, dictionary, number, row, records, seen, problems)
        if done % step == 0 or done == total:
            progress("checking", done, total)
            ImportRun.objects.filter(pk=run.pk).update(rows_done=done)
    today = site_date(run.site)
    for plan in records.values():
        _check_record(mapping, plan, today, problems)
    problems.sort(key=lambda p: (p["row"] or 0, p["column"]))
    return list(records.values()), problems


def _check_row(
    mapping: ImportMapping,
    dictionary: DataDictionary | None,
    number: int,
    row: dict[str, Any],
    records: dict[str, RecordPlan],
    seen: dict[tuple[str, str], int],
    problems: list[dict],
) -> None:
    record = str(row.get(mapping.record, "")).strip()
    repeating = str(row.get("redcap_repeat_instrument", "")).strip() if mapping.format == "redcap" else ""
    if repeating:
        # A repeating form's rows share their record and event with the event's own row: they are no timepoint.
        problems.append(
            problem(
                number,
                "redcap_repeat_instrument",
                _("A row of the repeating form %(form)s: export the records without repeating forms.")
                % {"form": repeating},
            )
        )
        return
    if not record:
        problems.append(problem(number, mapping.record, _("The row has no record id.")))
        return
    if mapping.event:
        event = str(row.get(mapping.event, "")).strip()
        if event not in mapping.events:
            problems.append(
                problem(
                    number,
                    mapping.event,
                    _("Unknown event “%(event)s”: the mapping knows %(events)s.")
                    % {"event": event, "events": ", ".join(mapping.events)},
                )
            )
            return
        timepoint = mapping.events[event]
    else:
        event = timepoint = mapping.timepoint or ""
    if (record, event) in seen:
        problems.append(
            problem(
                number,
                mapping.record,
                _("Duplicated key: record %(record)s, event %(event)s is also row %(row)d.")
                % {"record": record, "event": event or "-", "row": seen[(record, event)]},
            )
        )
        return
    seen[(record, event)] = number
    flagged: set[str] = set()
    if dictionary is not None:
        for column in mapping.columns():
            codes = dictionary.codes(column)
            cell = row.get(column, "")
            if codes is not None and cell != "" and str(cell) not in codes:
                problems.append(
                    problem(
                        number,
                        column,
                        _("Unknown code “%(code)s”: the data dictionary's choices for %(column)s are %(codes)s.")
                        % {"code": str(cell), "column": column, "codes": ", ".join(sorted(codes))},
                    )
                )
                flagged.add(column)
    plan = records.setdefault(record, RecordPlan(record=record, first_row=number))
    for section, known in (("patient", PATIENT_FIELDS), ("episode", EPISODE_FIELDS)):
        for name, spec in getattr(mapping, section).items():
            if spec.column in flagged:
                plan.unreadable.add(name)
                continue
            try:
                value = _convert(spec, row, known[name][0], mapping)
            except _CellProblem as exc:
                problems.append(problem(number, spec.column or "", exc.message))
                plan.unreadable.add(name)
                continue
            if value is None:
                continue
            held = getattr(plan, section)
            if name in held and held[name][0] != value and spec.column:
                problems.append(
                    problem(
                        number,
                        spec.column,
                        _("%(value)s differs from row %(row)d of the same record (%(earlier)s).")
                        % {"value": value, "row": held[name][1], "earlier": held[name][0]},
                    )
                )
            held.setdefault(name, (value, number))
    row_plan = RowPlan(row=number, record=record, event=event, timepoint=timepoint)
    for instrument, imap in mapping.instruments.items():
        answers: dict[str, Any] = {}
        for item_code, column in imap.items.items():
            raw = row.get(column, "")
            if raw == "" or raw is None or column in flagged:
                continue
            try:
                value = _answer(imap, item_code, raw)
            except _CellProblem as exc:
                problems.append(problem(number, column, exc.message))
                continue
            if value is not None:
                answers[item_code] = value
        if answers:
            if timepoint is None:
                problems.append(
                    problem(
                        number,
                        mapping.event or "",
                        _("Answers of %(instrument)s on a row whose event the mapping gives no timepoint.")
                        % {"instrument": instrument},
                    )
                )
                continue
            try:
                services.validate_response_answers(instrument, answers)
            except ValidationError as exc:
                problems.append(problem(number, next(iter(imap.items.values())), "; ".join(exc.messages)))
                continue
            row_plan.answers[instrument] = answers
    if row_plan.answers:
        try:
            row_plan.completed_on = _convert(mapping.completed_on, row, "date", mapping)
        except _CellProblem as exc:
            problems.append(problem(number, mapping.completed_on.column or "", exc.message))
        else:
            if row_plan.completed_on is None:
                problems.append(
                    problem(
                        number,
                        mapping.completed_on.column or "",
                        _("The row has answers but not the day they were given."),
                    )
                )
    plan.rows.append(row_plan)


def _check_record(mapping: ImportMapping, plan: RecordPlan, today: date, problems: list[dict]) -> None:
    """A record's whole-record rules: required fields, dates against birth, today and the follow-up windows."""
    for section, known in (("patient", PATIENT_FIELDS), ("episode", EPISODE_FIELDS)):
        for name, (_kind, required) in known.items():
            if required and name not in getattr(plan, section) and name not in plan.unreadable:
                spec = getattr(mapping, section).get(name)
                problems.append(
                    problem(
                        plan.first_row,
                        (spec.column if spec else "") or "",
                        _("Record %(record)s has no %(field)s in any of its rows.")
                        % {"record": plan.record, "field": name.replace("_", " ")},
                    )
                )
    birth = plan.value("patient", "date_of_birth")
    index = plan.value("episode", "index_date")
    dated = [("patient", "date_of_birth"), ("patient", "consent_date"), ("episode", "index_date")]
    for section, name in dated:
        value = plan.value(section, name)
        if value is not None and value > today:
            problems.append(
                problem(
                    getattr(plan, section)[name][1],
                    mapping.column_of(name),
                    _("%(date)s is in the future.") % {"date": value},
                )
            )
    if birth is not None and index is not None and index < birth:
        problems.append(
            problem(
                plan.episode["index_date"][1],
                mapping.column_of("index_date"),
                _("The treatment date %(date)s is before the date of birth %(birth)s.")
                % {"date": index, "birth": birth},
            )
        )
    if index is not None and (index > today or (birth is not None and index < birth)):
        index = None  # reported already: no follow-up window can be checked against it
    for row in plan.rows:
        day = row.completed_on
        if day is None:
            continue
        column = mapping.column_of("completed_on")
        if birth is not None and day < birth:
            problems.append(
                problem(
                    row.row,
                    column,
                    _("The answers are dated %(date)s, before the date of birth %(birth)s.")
                    % {"date": day, "birth": birth},
                )
            )
        elif day > today:
            problems.append(problem(row.row, column, _("%(date)s is in the future.") % {"date": day}))
        elif index is not None and row.timepoint:
            opens, _target, closes = WINDOW_BY_TIMEPOINT[row.timepoint].dates(index)
            if not opens <= day <= closes:
                problems.append(
                    problem(
                        row.row,
                        column,
                        _(
                            "Answers given on %(date)s fall outside the %(timepoint)s window of a treatment on "
                            "%(index)s (%(opens)s to %(closes)s)."
                        )
                        % {"date": day, "timepoint": row.timepoint, "index": index, "opens": opens, "closes": closes},
                    )
                )


# Writing ---------------------------------------------------------------------------------------------------


def change_reason(run: ImportRun) -> str:
    """The history's reason for every row a run writes (history keeps 100 characters; the run the whole hash)."""
    return f"import {run.pk}: {run.file_name[-40:]} sha256:{run.sha256[:16]}"


def _problems_of(exc: ValidationError, row: int, mapping: ImportMapping, fallback: str) -> list[dict]:
    if hasattr(exc, "error_dict"):
        return [
            problem(row, mapping.column_of(name) or name, "; ".join(str(m) for m in messages))
            for name, messages in exc.message_dict.items()
        ]
    return [problem(row, fallback, "; ".join(exc.messages))]


def _record_create(run: ImportRun, mapping: ImportMapping, plan: RecordPlan) -> tuple[Patient, TreatmentEpisode]:
    reason = change_reason(run)
    values = {name: value for name, (value, _row) in plan.patient.items()}
    identity_fields = {f.name for f in PatientIdentity._meta.get_fields()} - {"patient"}
    patient = Patient(site=run.site, **{k: v for k, v in values.items() if k not in identity_fields})
    patient.full_clean()
    patient._change_reason, patient._history_user = reason, run.user
    patient.save()
    identity = PatientIdentity(patient=patient, **{k: v for k, v in values.items() if k in identity_fields})
    identity.full_clean()
    identity._change_reason, identity._history_user = reason, run.user
    identity.save()
    episode = TreatmentEpisode(
        patient=patient, status=EpisodeStatus.DONE, **{n: v for n, (v, _row) in plan.episode.items()}
    )
    episode.full_clean()
    episode._change_reason, episode._history_user = reason, run.user
    episode.save()
    ImportKey.objects.create(
        site=run.site,
        source=mapping.source,
        record=plan.record,
        event="",
        patient=patient,
        episode=episode,
        run=run,
        row=plan.first_row,
    )
    return patient, episode


def _row_write(run: ImportRun, plan: RowPlan, patient: Patient, episode: TreatmentEpisode, source: str) -> int:
    follow_up = FollowUp.objects.get(episode=episode, timepoint=plan.timepoint)
    missing = [i for i in plan.answers if i not in follow_up.instruments]
    if missing:
        # The clinic asked it at that timepoint: the follow-up owes it too, so the answers are kept and counted.
        follow_up.instruments = [*follow_up.instruments, *missing]
        follow_up._change_reason = change_reason(run)
        follow_up.save(update_fields=["instruments", "updated_at"])
    assert plan.completed_on is not None
    completed_at = services.completed_at_for(plan.completed_on, run.site)
    for instrument, answers in plan.answers.items():
        services.response_submit(
            follow_up=follow_up,
            instrument=instrument,
            answers=answers,
            by=run.user,
            mode=Mode.IMPORTED,
            language=patient.identity.preferred_language,
            completed_at=completed_at,
            reason=change_reason(run),
        )
    ImportKey.objects.create(
        site=run.site,
        source=source,
        record=plan.record,
        event=plan.event,
        patient=patient,
        episode=episode,
        follow_up=follow_up,
        run=run,
        row=plan.row,
    )
    return len(plan.answers)


def write(
    run: ImportRun, mapping: ImportMapping, records: list[RecordPlan], progress: Progress
) -> tuple[list[dict], dict[str, int]]:
    """Write every record in one transaction; roll it all back on any problem, or for a dry run."""
    counts = {"patients": 0, "episodes": 0, "follow_ups": 0, "responses": 0, "already_imported": 0, "no_answers": 0}
    problems: list[dict] = []
    total = sum(len(p.rows) for p in records)
    done = 0
    completed_on = mapping.column_of("completed_on")
    try:
        with transaction.atomic():
            for plan in records:
                key = (
                    ImportKey.objects.filter(site=run.site, source=mapping.source, record=plan.record, event="")
                    .select_related("patient__identity", "episode")
                    .first()
                )
                if key is not None:
                    patient, episode = key.patient, key.episode
                else:
                    try:
                        with transaction.atomic():
                            patient, episode = _record_create(run, mapping, plan)
                    except ValidationError as exc:
                        problems += _problems_of(exc, plan.first_row, mapping, mapping.record)
                        done += len(plan.rows)
                        continue
                    counts["patients"] += 1
                    counts["episodes"] += 1
                done_keys = set(
                    ImportKey.objects.filter(site=run.site, source=mapping.source, record=plan.record).values_list(
                        "event", flat=True
                    )
                )
                for row in plan.rows:
                    done += 1
                    if not row.answers:
                        counts["no_answers"] += 1
                    elif row.event in done_keys:
                        counts["already_imported"] += 1
                    else:
                        try:
                            with transaction.atomic():
                                counts["responses"] += _row_write(run, row, patient, episode, mapping.source)
                            counts["follow_ups"] += 1
                        except ValidationError as exc:
                            problems += _problems_of(exc, row.row, mapping, completed_on)
                    if done % 20 == 0 or done == total:
                        progress("writing", done, total)
            if problems or run.dry_run:
                raise _Rollback
    except _Rollback:
        pass
    problems.sort(key=lambda p: (p["row"] or 0, p["column"]))
    return problems, counts


def scores_of(run: ImportRun) -> int:
    """How many score rows the engine wrote for this run's follow-ups (for the report)."""
    return Score.objects.filter(follow_up__in=run.keys.exclude(follow_up=None).values("follow_up")).count()


__all__ = [
    "Progress",
    "check_columns",
    "check_rows",
    "import_run_commit",
    "import_run_create",
    "import_run_execute",
    "write",
]
