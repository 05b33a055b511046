"""L1: the types of a KV value (Kestra's KVType), apart from the KV tasks so that reading the
store does not load the plugins."""
from __future__ import annotations

from enum import Enum


class KVType(str, Enum):
    STRING = "STRING"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    DATETIME = "DATETIME"
    DATE = "DATE"
    DURATION = "DURATION"
    JSON = "JSON"
