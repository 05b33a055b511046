"""L4: the ``podium`` command line. Each command group lives in its own module of this package."""
from __future__ import annotations

import importlib

import click

# Command modules, each exposing ``commands``: a list of click commands or groups to add.
COMMAND_MODULES = ("engine.cli.flow", "engine.cli.plugins", "engine.cli.run", "engine.cli.execution",
                   "engine.cli.kv", "engine.cli.namespace_files", "engine.cli.server", "engine.cli.backfill",
                   "engine.cli.triggers")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="podium")
def main() -> None:
    """Podium runs Kestra-style YAML flows on Celery.

    \b
    Start here:
      podium flow validate flows/          check flow files, every problem at once
      podium run flows/hello_world.yaml    run a flow to its end on the embedded default
      podium server local --flows flows/   executor, worker and beat in one process
    """


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:  # that command group is not built yet
                continue
            raise
        for command in module.commands:
            main.add_command(command)


_register()
