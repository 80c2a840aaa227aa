"""The clinical core's extension points: how the floors above it add to its pages and duties without the core
importing them (docs/architecture.md).

- `EPISODE_PANELS`: blocks on a treatment episode's admin page, below its inlines (follow-up adds the scores over
  time). The episode page renders each panel's template with what its `content` returns.
- `PATIENT_DATA`: what each app holds about a patient, so that the patient's export (an access request) and
  anonymisation (erasure) reach every table, whichever app keeps it.

An app adds its entries in its AppConfig.ready(); the core reads the lists when a page or a service runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models


@dataclass(frozen=True)
class EpisodePanel:
    """One block on the episode page. `content(episode, user)` returns what `template` shows (falsy: its empty
    state); `head_template`, if given, goes into the page's <head> when there is content (scripts, styles)."""

    key: str
    title: str
    template: str
    content: Callable[[Any, Any], Any]
    head_template: str = ""


@dataclass(frozen=True)
class PatientData:
    """One app's share of a patient's data.

    - `episode_export(episode)`: keys added to that episode's part of the export;
    - `patient_export(patient)`: keys added to the export's top level;
    - `anonymise(patient)`: erase what identifies the patient, inside anonymisation's transaction.
    """

    app: str
    episode_export: Callable[[Any], dict[str, Any]]
    patient_export: Callable[[Any], dict[str, Any]]
    anonymise: Callable[[Any], None]


EPISODE_PANELS: list[EpisodePanel] = []
PATIENT_DATA: list[PatientData] = []


def episode_panel_add(panel: EpisodePanel) -> None:
    if any(p.key == panel.key for p in EPISODE_PANELS):
        raise ValueError(f"An episode panel {panel.key!r} is already registered.")
    EPISODE_PANELS.append(panel)


def patient_data_add(data: PatientData) -> None:
    if any(d.app == data.app for d in PATIENT_DATA):
        raise ValueError(f"Patient data of {data.app!r} is already registered.")
    PATIENT_DATA.append(data)


def export_row(obj: models.Model, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """A row's own columns as JSON-able values (dates as ISO text, decimals as text, foreign keys as ids)."""
    out: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in exclude:
            continue
        value = getattr(obj, field.attname)
        if isinstance(value, date | datetime):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        out[field.name] = value
    return out
