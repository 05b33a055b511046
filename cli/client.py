"""L4: what the operating commands share: settings from options, services, option parsing and
error reporting."""
from __future__ import annotations

import functools
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import click

from engine.command_options import refuse_missing_drivers
from engine.errors import PodiumError
from engine.state import State

if TYPE_CHECKING:
    from engine.model.execution import Execution
    from engine.plugins.base import Registry
    from engine.services import Services
    from engine.settings import Settings

# The exit codes of every command that runs or waits for an execution (docs/running.md): CI reads them.
EXIT_SUCCESS = 0  # the execution ended SUCCESS, or WARNING without --strict
EXIT_FAILED = 1  # it ended FAILED, KILLED or CANCELLED (WARNING with --strict), or did not end
EXIT_REJECTED = 2  # the flow or its inputs were refused: nothing ran
STRICT_HELP = "Exit 1 when the execution ends WARNING (default: 0, as for SUCCESS)."

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")


def instance_options(command: F) -> F:
    """``--config`` and ``--data-dir``: which Podium instance a command works on."""
    command = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
                           help="Data folder of the instance (default: settings, else .podium).")(command)
    command = click.option("-c", "--config", "config_file", type=click.Path(exists=True, dir_okay=False),
                           help="YAML settings file (see docs/configuration.md).")(command)
    return command


def settings_from(config_file: str | None, data_dir: Path | None) -> Settings:
    from engine.settings import load_settings  # pydantic-settings: only for the commands that read settings

    overrides = {"data_dir": data_dir} if data_dir is not None else {}
    try:
        settings = load_settings(config_file, **overrides)
    except ValueError as err:
        raise click.ClickException(f"invalid settings: {err}") from None
    refuse_missing_drivers(settings)
    return settings


def open_services(settings: Settings, *, needs_executor: bool = False) -> Services:
    """Services talking to the instance's broker (so the executor of a running server acts).

    ``needs_executor``: the command hands work to a server's executor, which an in-process
    ``memory://`` broker cannot reach from this process; refuse with a way out.
    """
    if needs_executor and settings.is_in_process_broker:
        raise click.ClickException("the broker is memory://, which no server can read from another process; "
                                   "unset PODIUM_BROKER_URL (default podium-fs://) or name the server's broker, "
                                   "or use `podium run FLOW_FILE` to run a flow in this process")
    from engine.services import build_services
    from messaging.celery_app import make_celery
    from messaging.dispatch import CeleryDispatcher

    return build_services(settings, CeleryDispatcher(make_celery(settings)))


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Shows a PodiumError as one clear line on stderr (exit 1) instead of a traceback."""
    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except PodiumError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)
    return wrapper


def exit_code(state: State, *, strict: bool = False) -> int:
    """The exit code for an execution in ``state`` (one not ended counts as not successful)."""
    if state == State.SUCCESS or (state == State.WARNING and not strict):
        return EXIT_SUCCESS
    return EXIT_FAILED


def has_ended(execution: Execution) -> bool:
    """Whether a wait for ``execution`` is over: its final state is set and every task run ended,
    the ``afterExecution`` ones included (they start only once the final state is set, so the
    state alone says "ended" while they still run, and their logs are not written yet)."""
    return execution.state.current.is_terminated and all(
        run.state.current.is_terminated for run in execution.task_run_list)


def rejected(err: PodiumError) -> NoReturn:
    """Reports a flow or inputs that were refused before anything ran, and exits 2."""
    click.echo(f"error: {err}", err=True)
    sys.exit(EXIT_REJECTED)


def parse_json_option(text: str | None, option: str) -> dict[str, Any]:
    """The JSON object given to ``option`` (``--inputs``, ``--labels``); {} when not given."""
    from engine import safe_json

    if not text:
        return {}
    try:
        value = safe_json.loads(text)
    except safe_json.JsonLimitError as err:
        raise click.BadParameter(f"not valid JSON ({err})", param_hint=option) from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object, e.g. '{\"name\": \"value\"}'", param_hint=option)
    return value


def parse_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """``-i KEY=VALUE`` options as a mapping."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{pair}' should be KEY=VALUE", param_hint="--input")
        result[key] = value
    return result


def load_registry() -> Registry:
    """The plugin registry; a broken third-party plugin is reported as a warning line, not a crash."""
    from engine.plugins.registry import default_registry

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry = default_registry()
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)
    return registry


def echo_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, default=str))
