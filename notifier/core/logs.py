"""How every process logs: readable lines, or one JSON object per line for log shippers.

Either way each record goes through the redaction filter first, its traceback included, so a
notification URL's token never reaches a terminal or a log store. A record also carries what
the process is doing: the task and its id (workers) or the request id (the API), kept in
context variables that workers/app.py and the API set.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time

from notifier.core.redact import RedactingFilter

TASK: contextvars.ContextVar[str | None] = contextvars.ContextVar("task", default=None)
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One line per record: ts, level, logger, message, task, request_id, exc (when raised)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, var in (("task", TASK), ("request_id", REQUEST_ID)):
            if (value := var.get()) is not None:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The readable line, with the task or request id in brackets when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(v for v in (TASK.get(), REQUEST_ID.get()) if v)
        record.context = f" [{context}]" if context else ""
        return super().format(record)


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter(TEXT_FORMAT)


class OurHandler(logging.StreamHandler):
    """The handler `setup` installs: found again and replaced when setup runs twice."""


def setup(level: str = "INFO", fmt: str = "text") -> None:
    """Give the root logger our handler (stderr), redacting, in the chosen format.

    Handlers someone else put on the root (a test's capture) stay, with the redaction filter
    added; loggers with handlers of their own (uvicorn's, Celery's task logger) hand their
    records to the root instead, so no line escapes the format or the redaction.
    """
    root = logging.getLogger()
    handler = OurHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    root.handlers = [h for h in root.handlers if not isinstance(h, OurHandler)] + [handler]
    for each in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in each.filters):
            each.addFilter(RedactingFilter())
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is a log line too, in the same format
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery.task"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


def install_log_redaction(level: str = "INFO") -> None:
    """Log at `level` in NOTIFIER_LOG_FORMAT (text or json), every line redacted."""
    from notifier.settings import get_settings

    setup(level, get_settings().log_format)
