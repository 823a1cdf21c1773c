"""Logging of every process: the job a log line was written for, and the text and JSON formats.

While a job runs, :func:`job_log_context` holds its id, queue, name and company in a context
variable; the filter on the handler :func:`configure_logging` installs copies them onto every record
that reaches it, so any line logged meanwhile (by the handler, the runtime, BullMQ's callbacks or
any library, in the job's task or a thread it started) can be found by the job's id.
"""

from __future__ import annotations

import copy
import difflib
import logging
from contextvars import ContextVar
from typing import IO, Any

from ils.errors import ConfigurationError

#: The environment variable that picks the format of a process's log lines.
LOG_FORMAT_ENV = "ILS_LOG_FORMAT"
LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
#: The record attributes a job's lines carry (also the JSON keys).
JOB_FIELDS = ("job_id", "queue", "job_name", "company_id")
#: Record attributes meant for a terminal (uvicorn's message with colour codes), left out of JSON.
TERMINAL_ONLY = ("color_message",)


#: The fields of the job the current task or thread works for, in :data:`JOB_FIELDS`' order
#: (None outside a job). A tuple, not a mapping: it is set on every job a worker runs and read only
#: when a line is logged.
_current: ContextVar[tuple[Any, ...] | None] = ContextVar("ils_job_log_context", default=None)


class job_log_context:  # noqa: N801 (used as the context manager function it replaced)
    """Lines logged inside the block (and in threads started from it) are this job's.

    A class rather than a ``contextlib`` generator: a worker enters one or two per job, and this
    costs a fraction of a generator-based context manager."""

    __slots__ = ("_token", "_values")

    def __init__(
        self, job_id: str, queue: str, job_name: str, company_id: int | None = None
    ) -> None:
        self._values = (job_id, queue, job_name, company_id)

    def __enter__(self) -> None:
        self._token = _current.set(self._values)

    def __exit__(self, *_exc: object) -> None:
        _current.reset(self._token)


class JobContextFilter(logging.Filter):
    """Stamps each record with the current job's fields; attributes a caller already set (a
    ``LoggerAdapter``'s ``extra``) are kept. Records logged outside a job get none."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = _current.get()
        if job is not None:
            for key, value in zip(JOB_FIELDS, job, strict=True):
                if not hasattr(record, key):
                    setattr(record, key, value)
        return True


def job_tag(record: logging.LogRecord) -> str:
    """``[email order-confirmation job=123 company=4]`` for a job's record, else ``""``."""
    job_id = getattr(record, "job_id", None)
    if job_id is None:
        return ""
    parts = [getattr(record, "queue", None), getattr(record, "job_name", None), f"job={job_id}"]
    company = getattr(record, "company_id", None)
    if company is not None:
        parts.append(f"company={company}")
    return "[" + " ".join(str(p) for p in parts if p) + "]"


class TextFormatter(logging.Formatter):
    """:data:`TEXT_FORMAT`, the job's tag before the message of a job's lines."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        tag = job_tag(record)
        if not tag:
            return super().format(record)
        tagged = copy.copy(record)  # the record itself goes on to other handlers unchanged
        tagged.msg, tagged.args = f"{tag} {record.getMessage()}", None
        return super().format(tagged)


def json_formatter() -> logging.Formatter:
    """One JSON object a line: time, level, logger, message, the job's fields and any ``extra``."""
    from pythonjsonlogger.core import RESERVED_ATTRS  # only for the JSON format
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        reserved_attrs=[*RESERVED_ATTRS, *TERMINAL_ONLY],
    )


def check_log_format(fmt: str) -> str:
    """``fmt`` if it is a known format, else :class:`ConfigurationError` with a suggestion."""
    if fmt in LOG_FORMATS:
        return fmt
    close = difflib.get_close_matches(fmt, LOG_FORMATS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigurationError(
        f"unknown log format {fmt!r} ({LOG_FORMAT_ENV}): one of {', '.join(LOG_FORMATS)}{hint}"
    )


def log_handler(fmt: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing ``fmt`` lines (text or json) to ``stream`` (stderr), job fields stamped."""
    handler = logging.StreamHandler(stream)
    check_log_format(fmt)
    handler.setFormatter(json_formatter() if fmt == "json" else TextFormatter())
    handler.addFilter(JobContextFilter())
    return handler


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Log to stderr at ``level`` in format ``fmt`` (``text`` or ``json``), unless the root logger
    already has handlers (an embedding application or a test runner configured it)."""
    logging.basicConfig(level=level.upper(), handlers=[log_handler(fmt)])
