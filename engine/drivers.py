"""L2: the drivers a database or broker URL needs, checked before a command or process starts.

PostgreSQL's driver (psycopg) is an extra of the package, not installed by default: without this
check a command on a ``postgresql://`` URL ends in an ``ImportError`` traceback from deep inside
SQLAlchemy, and a worker's children in one each. ``check_drivers`` says it in one line, with the
command that installs it; it only looks for the module (``find_spec``), which costs no import.
A driver that is there but cannot load (a missing system library) is found by ``load=True``,
which the processes use, and by ``Database``, which turns an ``ImportError`` met while building
its engine into the same line, with the reason.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class Driver:
    """A module a URL scheme needs, and what to tell the user who lacks it."""

    module: str
    needs: str
    install: str

    def message(self, reason: str | None = None) -> str:
        because = f" ({reason})" if reason else ""
        return f"{self.needs}: {self.install}{because}"


class MissingDriver(Exception):
    """A database or broker URL names a driver that is not installed; the message says how to."""


_POSTGRES = Driver("psycopg", "PostgreSQL needs the postgres extra", "pip install -e '.[postgres]'")
_REDIS = Driver("redis", "Redis needs the redis package, a dependency of Podium", "pip install -e .")
DATABASE_DRIVERS = {"postgresql": _POSTGRES, "postgres": _POSTGRES, "postgresql+psycopg": _POSTGRES}
BROKER_DRIVERS = {"redis": _REDIS, "rediss": _REDIS, "redis+socket": _REDIS}


def database_driver(url: str) -> Driver | None:
    """The driver a database URL needs beyond what every installation has (SQLite's is built in)."""
    return DATABASE_DRIVERS.get(_scheme(url))


def check_drivers(database_url: str, broker_url: str, *, load: bool = False) -> None:
    """Raises MissingDriver if the driver of either URL is not installed; with ``load``, also if
    it cannot be imported (what a long-lived process checks once before it forks its children)."""
    for driver in (database_driver(database_url), BROKER_DRIVERS.get(_scheme(broker_url))):
        if driver is None:
            continue
        if not _installed(driver.module):
            raise MissingDriver(driver.message())
        if load:
            try:
                importlib.import_module(driver.module)
            except ImportError as err:
                raise MissingDriver(driver.message(str(err))) from err


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module without a spec
        return False
