"""Importing a clinic's earlier records (outcomes.imports): the sample REDCap project and spreadsheet land every
row, scored by the engine; a second run adds nothing; one bad row lands nothing and is reported by row and column;
another site's import is refused; the command's exit status and report."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from outcomes.imports.mapping import MappingError, mapping_load
from outcomes.imports.services import import_run_create, import_run_execute
from outcomes.models import FollowUp, ImportKey, ImportRun, ImportStatus, Mode, Response, Score
from registry.models import Patient, PatientIdentity, TreatmentEpisode

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[2] / "outcomes" / "imports" / "samples"
RECORDS = (SAMPLES / "redcap_records.csv").read_bytes()
DICTIONARY = (SAMPLES / "redcap_dictionary.csv").read_bytes()
REDCAP_MAPPING = (SAMPLES / "redcap_mapping.yaml").read_text()
SHEET_MAPPING = (SAMPLES / "spreadsheet_mapping.yaml").read_text()
REDCAP_MAPPING_BYTES = REDCAP_MAPPING.encode()
REDCAP_ROWS = RECORDS.decode().strip().count("\n")  # rows below the header


def redcap_run(site, user, *, content=RECORDS, dry_run=False, mapping=REDCAP_MAPPING):
    run = import_run_create(
        site=site,
        user=user,
        file_name="redcap_records.csv",
        content=content,
        mapping=mapping,
        dictionary=DICTIONARY,
        dictionary_name="redcap_dictionary.csv",
        dry_run=dry_run,
    )
    return import_run_execute(run=run)


def with_cell(content: bytes, row: int, column: str, value: str) -> bytes:
    """The CSV with one cell changed (row numbered as a spreadsheet shows it: the header is row 1)."""
    lines = content.decode().splitlines()
    header = lines[0].split(",")
    cells = lines[row - 1].split(",")
    cells[header.index(column)] = value
    lines[row - 1] = ",".join(cells)
    return ("\n".join(lines) + "\n").encode()


def test_the_sample_redcap_project_lands_every_row_scored_by_the_engine(site_a, alice):
    run = redcap_run(site_a, alice)

    assert run.status == ImportStatus.DONE and run.report == [], run.report
    assert run.landed and run.content is None  # the file is not kept once its rows are in
    assert Patient.objects.filter(site=site_a).count() == 6
    keys = ImportKey.objects.filter(site=site_a, source="hrj-redcap-knee").exclude(event="")
    assert keys.count() == REDCAP_ROWS == run.counts["follow_ups"]
    responses = Response.objects.filter(follow_up__episode__patient__site=site_a)
    assert responses.count() == 2 * REDCAP_ROWS  # KOOS and VAS on every event
    assert set(responses.values_list("mode", flat=True)) == {Mode.IMPORTED}
    # REDCap's 1-5 became KOOS's 0-4, and the scores are the engine's, not the file's koos_pain_score column.
    first = keys.get(record="1001", event="baseline_arm_1").follow_up
    koos = first.responses.get(instrument="koos")
    assert koos.answers["P1"] == 3  # koos_p1 was 4 in the export
    pain = Score.objects.get(follow_up=first, instrument="koos", key="pain")
    assert pain.value == pytest.approx(100 - sum(koos.answers[f"P{i}"] for i in range(1, 10)) / 9 * 25)
    assert pain.value != pytest.approx(19.44)
    assert Score.objects.filter(follow_up=first, instrument="womac_from_koos").exists()  # derived, as staff entry
    assert first.status == "completed"
    # Identity, episode and history with the file's name and checksum.
    identity = PatientIdentity.objects.get(medical_record_number="HRJ-70000")
    assert (identity.given_name, str(identity.date_of_birth)) == ("Mina", "1950-01-03")
    episode = TreatmentEpisode.objects.get(patient=identity.patient)
    assert (episode.joint, episode.side, str(episode.index_date), episode.kl_grade) == ("knee", "left", "2024-02-05", 2)
    assert episode.prior_ha_injection is True and episode.prior_nsaids is False  # checkbox prior_tx___4 / ___1
    reason = f"import {run.pk}: redcap_records.csv sha256:{run.sha256[:16]}"
    assert identity.patient.history.first().history_change_reason == reason
    assert episode.history.first().history_user == alice
    assert koos.history.first().history_change_reason == reason
    assert len(run.sha256) == 64


def test_a_second_run_of_the_same_file_adds_nothing(site_a, alice):
    redcap_run(site_a, alice)
    before = (Patient.objects.count(), Response.objects.count(), Score.objects.count(), FollowUp.objects.count())

    again = redcap_run(site_a, alice)

    assert again.status == ImportStatus.DONE and again.report == []
    assert again.counts["already_imported"] == REDCAP_ROWS
    assert (again.counts["patients"], again.counts["follow_ups"]) == (0, 0)
    after = (Patient.objects.count(), Response.objects.count(), Score.objects.count(), FollowUp.objects.count())
    assert after == before


def test_a_dry_run_reports_what_would_land_and_lands_nothing(site_a, alice):
    run = redcap_run(site_a, alice, dry_run=True)

    assert run.status == ImportStatus.DONE and run.report == []
    assert run.counts["follow_ups"] == REDCAP_ROWS and run.counts["patients"] == 6
    assert not Patient.objects.exists() and not ImportKey.objects.exists()
    assert run.content is not None  # kept for the commit


@pytest.mark.parametrize(
    ("row", "column", "value", "words"),
    [
        (3, "koos_p2", "9", "data dictionary"),  # not a REDCap choice of the field
        (3, "pain_vas", "140", "out of range"),
        (2, "tx_date", "1940-01-01", "before the date of birth"),
        (4, "visit_date", "1930-05-05", "before the date of birth"),
        (5, "redcap_event_name", "month_9_arm_1", "Unknown event"),
        (2, "sex", "", "no sex"),
        (6, "visit_date", "2024-13-40", "not a date"),
    ],
)
def test_a_file_with_one_bad_row_lands_nothing_and_names_the_row_and_column(site_a, alice, row, column, value, words):
    run = redcap_run(site_a, alice, content=with_cell(RECORDS, row, column, value))

    assert run.status == ImportStatus.FAILED
    assert [(p["row"], p["column"]) for p in run.report] == [(row, column)], run.report
    assert words in run.report[0]["message"]
    assert not Patient.objects.exists() and not Response.objects.exists() and not ImportKey.objects.exists()


def test_a_duplicated_key_is_reported_at_its_second_row(site_a, alice):
    lines = RECORDS.decode().splitlines()
    content = ("\n".join([*lines, lines[2]]) + "\n").encode()  # row 3 again, as row len(lines) + 1

    run = redcap_run(site_a, alice, content=content)

    assert [(p["row"], p["column"]) for p in run.report] == [(len(lines) + 1, "record_id")]
    assert "Duplicated key" in run.report[0]["message"] and "also row 3" in run.report[0]["message"]
    assert not Patient.objects.exists()


def test_an_unknown_code_of_the_mapping_is_reported(site_a, alice):
    mapping = yaml.safe_load(REDCAP_MAPPING)
    mapping["patient"]["sex"]["codes"] = {"1": "female"}  # record 1002 is "2"

    run = redcap_run(site_a, alice, mapping=mapping)

    assert {(p["column"], "Unknown code “2”" in p["message"]) for p in run.report} == {("sex", True)}
    assert not Patient.objects.exists()


def test_answers_outside_the_follow_up_window_are_refused(site_a, alice):
    run = redcap_run(site_a, alice, content=with_cell(RECORDS, 3, "visit_date", "2024-03-01"))

    assert [(p["row"], p["column"]) for p in run.report] == [(3, "visit_date")]
    assert "outside the m3 window" in run.report[0]["message"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda m: m.pop("record"), "names no patient column"),
        (lambda m: m["instruments"]["koos"]["items"].update({"P99": "koos_p1"}), "no item P99"),
        (lambda m: m["instruments"]["koos"]["codes"].update({"5": 7}), "does not take"),
        (lambda m: m.update({"events": {"baseline_arm_1": "m5"}}), "not a timepoint"),
        (lambda m: m["patient"].pop("date_of_birth"), "patient.date_of_birth is required"),
    ],
)
def test_a_bad_mapping_is_refused_before_any_row(site_a, alice, change, words):
    mapping = yaml.safe_load(REDCAP_MAPPING)
    change(mapping)

    with pytest.raises(MappingError) as refused:
        redcap_run(site_a, alice, mapping=mapping)

    assert any(words in p for p in refused.value.problems), refused.value.problems
    assert not ImportRun.objects.exists()


def test_a_calculated_field_or_a_missing_column_is_a_file_problem(site_a, alice):
    mapping = yaml.safe_load(REDCAP_MAPPING)
    mapping["instruments"]["koos"]["items"]["P1"] = "koos_pain_score"
    mapping["patient"]["email"] = "email_address"

    run = redcap_run(site_a, alice, mapping=mapping)

    assert run.status == ImportStatus.FAILED
    by_column = {p["column"]: p["message"] for p in run.report}
    assert all(p["row"] is None for p in run.report)
    assert "calculated field" in by_column["koos_pain_score"]
    assert "does not have" in by_column["email_address"]


def test_the_sample_spreadsheet_lands_from_xlsx_and_csv_alike(site_a, alice):
    run = import_run_execute(
        run=import_run_create(
            site=site_a,
            user=alice,
            file_name="clinic_spreadsheet.xlsx",
            content=(SAMPLES / "clinic_spreadsheet.xlsx").read_bytes(),
            mapping=SHEET_MAPPING,
            dry_run=False,
        )
    )

    assert run.report == [] and run.status == ImportStatus.DONE
    rows = (SAMPLES / "clinic_spreadsheet.csv").read_text().strip().count("\n")
    assert run.counts["follow_ups"] == rows and Patient.objects.count() == 5
    episode = TreatmentEpisode.objects.get(patient__identity__medical_record_number="SRO-5100")
    assert (episode.joint, episode.side, episode.spinal_level) == ("spine", "midline", "L4-L5")
    odi = Response.objects.get(follow_up__episode=episode, follow_up__timepoint="baseline", instrument="odi")
    assert odi.answers["S1"] == 2  # "C"
    assert Score.objects.filter(follow_up=odi.follow_up, instrument="odi").exists()

    # The CSV of the same sheet is the same records: nothing new.
    again = import_run_execute(
        run=import_run_create(
            site=site_a,
            user=alice,
            file_name="clinic_spreadsheet.csv",
            content=(SAMPLES / "clinic_spreadsheet.csv").read_bytes(),
            mapping=SHEET_MAPPING,
            dry_run=False,
        )
    )
    assert again.report == [] and again.counts["already_imported"] == rows and Patient.objects.count() == 5


def test_a_file_that_is_not_a_workbook_is_refused_with_the_reason(site_a, alice):
    run = import_run_execute(
        run=import_run_create(
            site=site_a, user=alice, file_name="sheet.xlsx", content=b"not a workbook", mapping=SHEET_MAPPING
        )
    )

    assert run.status == ImportStatus.FAILED
    assert "not an Excel workbook" in run.report[0]["message"]


def test_another_sites_import_is_refused(site_a, site_b, alice):
    with pytest.raises(PermissionDenied):
        import_run_create(site=site_b, user=alice, file_name="r.csv", content=RECORDS, mapping=REDCAP_MAPPING)
    assert not ImportRun.objects.exists()


def test_a_record_imported_before_gets_its_new_events_only(site_a, alice):
    lines = RECORDS.decode().splitlines()
    first_two = ("\n".join(lines[:3]) + "\n").encode()  # record 1001: baseline and 3 months
    redcap_run(site_a, alice, content=first_two)

    run = redcap_run(site_a, alice)

    assert run.report == []
    assert run.counts["already_imported"] == 2 and run.counts["follow_ups"] == REDCAP_ROWS - 2
    assert Patient.objects.count() == 6
    assert ImportKey.objects.filter(record="1001", event="").count() == 1


def test_mapping_reads_json_as_well_as_yaml():
    import json

    assert mapping_load(json.dumps(yaml.safe_load(REDCAP_MAPPING))).source == "hrj-redcap-knee"


# The command -----------------------------------------------------------------------------------------------


def _command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_records", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_the_command_dry_runs_then_imports_the_sample_project(site_a, alice):
    common = [
        str(SAMPLES / "redcap_records.csv"),
        "--site",
        site_a.code,
        "--user",
        "alice",
        "--mapping",
        str(SAMPLES / "redcap_mapping.yaml"),
        "--dictionary",
        str(SAMPLES / "redcap_dictionary.csv"),
    ]
    dry = _command(*common, "--dry-run")
    assert "Dry run: nothing was imported" in dry and f"{REDCAP_ROWS} rows" in dry
    assert not Patient.objects.exists()

    real = _command(*common)
    assert "Imported" in real and "6 new patients" in real
    assert Patient.objects.count() == 6


def test_the_command_exits_non_zero_naming_the_bad_row(site_a, alice, tmp_path):
    bad = tmp_path / "records.csv"
    bad.write_bytes(with_cell(RECORDS, 4, "pain_vas", "250"))
    args = [str(bad), "--site", site_a.code, "--user", "alice", "--mapping", str(SAMPLES / "redcap_mapping.yaml")]
    args += ["--dictionary", str(SAMPLES / "redcap_dictionary.csv")]

    with pytest.raises(CommandError, match="1 problems: nothing was imported"):
        _command(*args)
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--site", "SITEB", "--user", "alice"], "may not import for SITEB"),
        (["--site", "NOPE", "--user", "alice"], "No site"),
        (["--site", "SITEA", "--user", "alice", "--mapping", "/no/such/mapping.yaml"], "Cannot read"),
    ],
)
def test_the_command_refuses_with_a_message(site_a, site_b, alice, args, words):
    full = [str(SAMPLES / "redcap_records.csv"), "--dictionary", str(SAMPLES / "redcap_dictionary.csv"), *args]
    if "--mapping" not in args:
        full += ["--mapping", str(SAMPLES / "redcap_mapping.yaml")]
    with pytest.raises(CommandError, match=words):
        _command(*full)


# The admin pages -------------------------------------------------------------------------------------------


@pytest.fixture
def run_at_once(monkeypatch):
    """The worker's part, run at once: the admin queues the run, this runs it (as outcomes.tasks.import_run)."""
    from outcomes import queue, tasks

    monkeypatch.setattr(queue, "import_run_soon", lambda run_id: tasks.import_run(run_id))


def _upload(client, site, *, dry_run=True, records=RECORDS, mapping=REDCAP_MAPPING_BYTES):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {
        "site": site.pk,
        "records": SimpleUploadedFile("redcap_records.csv", records, "text/csv"),
        "dictionary": SimpleUploadedFile("redcap_dictionary.csv", DICTIONARY, "text/csv"),
        "mapping": SimpleUploadedFile("redcap_mapping.yaml", mapping, "application/yaml"),
    }
    if dry_run:
        data["dry_run"] = "on"
    return client.post("/admin/outcomes/importrun/add/", data)


def test_the_admin_dry_runs_shows_the_report_then_imports(alice_client, site_a, run_at_once):
    page = alice_client.get("/admin/outcomes/importrun/add/")
    assert page.status_code == 200 and b"Dry run" in page.content

    response = _upload(alice_client, site_a)
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/importrun/{run.pk}/change/")
    shown = alice_client.get(response["Location"])
    assert shown.status_code == 200
    assert b"Every row can be imported" in shown.content and run.sha256.encode() in shown.content
    assert not Patient.objects.exists()

    committed = alice_client.post(f"/admin/outcomes/importrun/{run.pk}/commit/")
    real = ImportRun.objects.exclude(pk=run.pk).get()
    assert committed["Location"].endswith(f"/importrun/{real.pk}/change/")
    assert real.landed and Patient.objects.filter(site=site_a).count() == 6
    assert b"Every row is in the registry" in alice_client.get(committed["Location"]).content
    # The dry run's copy of the file went with the import: it cannot be imported twice from the page.
    run.refresh_from_db()
    assert run.content is None
    assert alice_client.get(f"/admin/outcomes/importrun/{run.pk}/change/").content.count(b"Import these rows") == 0


def test_the_admin_report_names_the_bad_row_and_column(alice_client, site_a, run_at_once):
    _upload(alice_client, site_a, dry_run=False, records=with_cell(RECORDS, 3, "pain_vas", "140"))
    run = ImportRun.objects.get()

    page = alice_client.get(f"/admin/outcomes/importrun/{run.pk}/change/")

    assert run.status == ImportStatus.FAILED and not Patient.objects.exists()
    assert b"1 problem: nothing was imported" in page.content
    assert b"<td>3</td><td>pain_vas</td>" in page.content


def test_the_admin_page_shows_progress_while_the_run_runs(alice_client, site_a, alice, monkeypatch):
    from outcomes import queue

    monkeypatch.setattr(queue, "import_run_soon", lambda run_id: None)  # the worker has not started it yet
    _upload(alice_client, site_a)
    run = ImportRun.objects.get()
    ImportRun.objects.filter(pk=run.pk).update(status=ImportStatus.CHECKING, rows_total=18, rows_done=9)

    page = alice_client.get(f"/admin/outcomes/importrun/{run.pk}/change/")

    assert b'http-equiv="refresh"' in page.content and b"9 of 18 rows checked" in page.content
    assert b'value="50"' in page.content

    ImportRun.objects.filter(pk=run.pk).update(status=ImportStatus.WRITING, rows_done=18)
    page = alice_client.get(f"/admin/outcomes/importrun/{run.pk}/change/")
    assert b"All 18 rows checked; writing them in one transaction" in page.content


def test_a_bad_mapping_is_a_form_error_and_nothing_is_queued(alice_client, site_a, monkeypatch):
    from outcomes import queue

    queued = []
    monkeypatch.setattr(queue, "import_run_soon", queued.append)
    mapping = yaml.safe_load(REDCAP_MAPPING)
    del mapping["record"]

    page = _upload(alice_client, site_a, mapping=yaml.safe_dump(mapping).encode())

    assert page.status_code == 200 and b"names no patient column" in page.content
    assert queued == [] and not ImportRun.objects.exists()


def test_the_admin_refuses_another_sites_import(alice_client, site_a, site_b, bob, monkeypatch):
    from outcomes import queue

    monkeypatch.setattr(queue, "import_run_soon", lambda run_id: None)
    page = _upload(alice_client, site_b)
    assert page.status_code == 200 and b"Select a valid choice" in page.content  # site B is not among hers
    assert not ImportRun.objects.exists()

    theirs = import_run_create(
        site=site_b, user=bob, file_name="b.csv", content=RECORDS, mapping=REDCAP_MAPPING, dictionary=DICTIONARY
    )
    assert alice_client.get(f"/admin/outcomes/importrun/{theirs.pk}/change/").status_code == 404
    assert alice_client.post(f"/admin/outcomes/importrun/{theirs.pk}/commit/").status_code == 404
    listing = alice_client.get("/admin/outcomes/importrun/")
    assert listing.status_code == 200 and b"b.csv" not in listing.content


def test_a_redelivered_task_runs_the_import_once(site_a, alice):
    from outcomes import tasks

    run = import_run_create(
        site=site_a,
        user=alice,
        file_name="r.csv",
        content=RECORDS,
        mapping=REDCAP_MAPPING,
        dictionary=DICTIONARY,
        dry_run=False,
    )
    assert tasks.import_run(run.pk) == ImportStatus.DONE
    assert tasks.import_run(run.pk) == ImportStatus.DONE  # claimed already: nothing done twice
    assert ImportKey.objects.filter(run=run).count() == REDCAP_ROWS + 6


def test_a_patient_s_export_names_the_import_and_anonymising_drops_the_old_record_id(site_a, alice):
    from registry.services import patient_anonymise, patient_export

    redcap_run(site_a, alice)
    patient = PatientIdentity.objects.get(medical_record_number="HRJ-70000").patient

    exported = patient_export(patient=patient, by=alice)
    assert "'record': '1001'" in str(exported) and "redcap_records.csv" in str(exported)

    site_a.withdrawal_policy = "anonymise"
    site_a.save()
    patient.withdrawn_on, patient.withdrawal_reason = date.today(), "withdrew"
    patient.save()
    patient_anonymise(patient=patient, by=alice, reason="patient asked")
    assert not ImportKey.objects.filter(patient=patient).exists()
    assert ImportKey.objects.filter(record="1002").exists()


def test_the_wrong_file_for_the_mapping_is_said_in_one_sentence(site_a, alice):
    run = redcap_run(site_a, alice, content=(SAMPLES / "clinic_spreadsheet.csv").read_bytes())

    assert run.status == ImportStatus.FAILED and len(run.report) == 1
    assert "is it the file this mapping is for?" in run.report[0]["message"]


def test_the_import_pages_and_report_follow_the_staff_member_s_language(alice_client, site_a, run_at_once, settings):
    alice_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    assert "試行" in alice_client.get("/admin/outcomes/importrun/add/").content.decode()

    _upload(alice_client, site_a, dry_run=False, records=with_cell(RECORDS, 3, "pain_vas", "140"))
    run = ImportRun.objects.get()

    assert run.language == "ja" and "範囲外" in run.report[0]["message"]
    assert "何も取り込んでいません" in alice_client.get(f"/admin/outcomes/importrun/{run.pk}/change/").content.decode()


def test_constants_of_the_mapping_are_read_as_cells_are(site_a, alice):
    mapping = yaml.safe_load(REDCAP_MAPPING)
    mapping["patient"]["consent_date"] = {"value": "2023-12-01"}
    mapping["episode"]["prior_surgery"] = {"value": True}

    run = redcap_run(site_a, alice, mapping=mapping)

    assert run.report == []
    assert {str(d) for d in Patient.objects.values_list("consent_date", flat=True)} == {"2023-12-01"}
    assert all(TreatmentEpisode.objects.values_list("prior_surgery", flat=True))


def test_a_fault_while_writing_marks_the_run_failed_and_lands_nothing(site_a, alice, monkeypatch):
    from outcomes.imports import services as import_services

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(import_services.services, "response_submit", broken)
    run = import_run_create(
        site=site_a,
        user=alice,
        file_name="r.csv",
        content=RECORDS,
        mapping=REDCAP_MAPPING,
        dictionary=DICTIONARY,
        dry_run=False,
    )
    with pytest.raises(RuntimeError):
        import_run_execute(run=run)

    run.refresh_from_db()
    assert run.status == ImportStatus.FAILED and "unexpected error" in run.report[0]["message"]
    assert not Patient.objects.exists() and not ImportKey.objects.exists()


def test_a_redcap_repeating_form_row_is_named_not_taken_for_a_duplicate(site_a, alice):
    lines = RECORDS.decode().splitlines()
    header = lines[0] + ",redcap_repeat_instrument,redcap_repeat_instance"
    body = [line + ",," for line in lines[1:]]
    body.append(lines[2] + ",adverse_events,1")  # record 1001, month 3 again: a repeating form's row
    content = ("\n".join([header, *body]) + "\n").encode()

    run = redcap_run(site_a, alice, content=content)

    assert [(p["row"], p["column"]) for p in run.report] == [(len(body) + 1, "redcap_repeat_instrument")]
    assert "adverse_events" in run.report[0]["message"]


def test_the_admin_queues_the_run_by_the_name_the_worker_registers(django_capture_on_commit_callbacks, monkeypatch):
    from outcomes import queue, tasks

    assert tasks.import_run.name == queue.IMPORT_RUN
    sent = []
    monkeypatch.setattr(queue.current_app, "send_task", lambda name, args: sent.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        queue.import_run_soon(7)
        assert sent == []  # only once the run's row is committed
    assert sent == [(queue.IMPORT_RUN, [7])]
