"""Keep patient link tokens out of every log.

A token in a log line is a key to a patient's questionnaire for anyone who reads the log. `scrub()` replaces the
token part of /p/<token>/ and /p/optout/<token>/ paths. It is applied by a logging filter on the registry's
handlers (Django's request and server loggers) and by the gunicorn logger class used in production
(`--logger-class project.logscrub.GunicornScrubbingLogger`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from registry.client_ip import client_ip_from_meta

_TOKEN_PATH = re.compile(r"(/p/(?:optout/)?)(?!q/)[A-Za-z0-9_\-]{8,}")
REDACTED = "[redacted]"


def scrub(text: str) -> str:
    return _TOKEN_PATH.sub(lambda m: m.group(1) + REDACTED, text)


class ScrubTokensFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if getattr(record, "request", None) is not None:
            record.request = None  # Django attaches the request (with its path) to error records
        return True


try:  # gunicorn is installed in production images and the dev environment
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover
    _GunicornLogger = object  # type: ignore[assignment,misc]


class GunicornScrubbingLogger(_GunicornLogger):  # type: ignore[misc,valid-type]
    """gunicorn's access log with tokens removed from the request line, path and referer, and the client's address
    (`%(h)s`) as the registry sees it behind REGISTRY_TRUSTED_PROXIES proxies, not the proxy's (registry.client_ip).
    """

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["h"] = client_ip_from_meta(environ) or atoms.get("h", "-")
        for key in ("r", "U", "f", "{raw_uri}e", "{path_info}e"):
            if isinstance(atoms.get(key), str):
                atoms[key] = scrub(atoms[key])
        return atoms
