"""Serve plotly.js from the `plotly` Python package, so the registry never loads it from a CDN.

Clinics may be offline and the pages keep a strict Content-Security-Policy (script-src 'self'), so the charts'
JavaScript must come from the registry itself. The `plotly` package ships the minified bundle; this finder
exposes exactly that one file as the static path `vendor/plotly.min.js`. runserver serves it in DEBUG,
collectstatic copies it for WhiteNoise in production, and the test live server finds it. The file is never
committed: its version follows the installed `plotly` package.
"""

from __future__ import annotations

import os
from typing import Any

from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

STATIC_PATH = "vendor/plotly.min.js"


def plotly_js_path() -> str | None:
    """The absolute path of the bundle shipped with the installed plotly package, or None."""
    try:
        import plotly
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js")
    return path if os.path.isfile(path) else None


class PlotlyFinder(BaseFinder):
    """A staticfiles finder holding exactly one file: `vendor/plotly.min.js`."""

    def check(self, **kwargs: Any) -> list[Error]:
        if plotly_js_path() is None:
            return [Error("plotly.min.js not found: install the `plotly` package.", id="registry.E100")]
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> str | list[str]:
        # Django 5.2 renamed `all` to `find_all`; accept both.
        find_all = find_all or bool(kwargs.get("all"))
        found = plotly_js_path() if path == STATIC_PATH else None
        if found is None:
            return [] if find_all else None  # type: ignore[return-value]
        return [found] if find_all else found

    def list(self, ignore_patterns: Any) -> Any:
        found = plotly_js_path()
        if found is None:
            return
        storage = FileSystemStorage(location=os.path.dirname(found))
        storage.prefix = "vendor"  # collectstatic copies it to STATIC_ROOT/vendor/plotly.min.js
        yield "plotly.min.js", storage
