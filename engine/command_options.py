"""The command-line options every Podium command shares (``--config``, ``--data-dir``) and the
settings they load; bad settings end the command with exit code 2 and one line, never a traceback.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from engine.credentials import mask_credentials
from engine.drivers import MissingDriver, check_drivers

if TYPE_CHECKING:
    from engine.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

#: Exit code of a command whose settings or arguments were refused (as click's usage errors).
REFUSED = 2

CONFIG_OPTION = click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
                             help="YAML settings file (default: PODIUM_CONFIG).")

DATA_DIR_OPTION = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path),
    help="Data folder of the instance: its database, podium-fs:// broker and files (default: settings.data_dir).")


class Refused(click.ClickException):
    """Settings or arguments a command cannot start with: one line on stderr, exit code 2."""

    exit_code = REFUSED


def settings_or_refuse(config_file: Path | None, **overrides: Any) -> Settings:
    """The settings from the file, ``PODIUM_*`` and the options given (``None`` means not given)."""
    # pydantic-settings costs a third of a second: only the commands that start something pay it.
    from engine.settings import load_settings

    try:
        settings = load_settings(config_file, **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as err:  # pydantic's ValidationError is one
        # pydantic quotes each refused value, which may be a URL with its password
        raise Refused(f"invalid settings: {mask_credentials(str(err))}") from None
    refuse_missing_drivers(settings, load=True)  # processes: before a worker forks its children
    return settings


class CommandGroup(click.Group):
    """A click group whose commands end with one line, exit code 2, when a driver turns out to be
    missing only once a command builds its database (installed but unable to load)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MissingDriver as err:
            raise Refused(str(err)) from None


def refuse_missing_drivers(settings: Settings, *, load: bool = False) -> None:
    """Refuses settings whose database or broker needs a driver that is not installed (with
    ``load``, or cannot be imported)."""
    try:
        check_drivers(settings.resolved_database_url, settings.resolved_broker_url, load=load)
    except MissingDriver as err:
        raise Refused(str(err)) from None
