"""The command-line options every Podium command shares (``--config``, ``--data-dir``) and the
settings they load; bad settings end the command with exit code 2 and one line, never a traceback.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from engine.credentials import mask_credentials

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
        return load_settings(config_file, **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as err:  # pydantic's ValidationError is one
        # pydantic quotes each refused value, which may be a URL with its password
        raise Refused(f"invalid settings: {mask_credentials(str(err))}") from None
