"""L1: the levels of a log line (Kestra's Level), apart from the task model so that reading logs
does not build the task options' pydantic models."""
from __future__ import annotations

from enum import Enum


class LogLevel(str, Enum):
    TRACE = "TRACE"
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"
