"""The ``podium`` command line: one click group; each command group lives in its own module of this
package, and each process's start command in that process's folder (``executor/command.py``...).

Command modules import only click, the settings and what ``--help`` needs at the top; the services,
Celery and the database layer are imported inside the commands that use them.
"""
from __future__ import annotations

import click

from beat.command import beat_command
from cli.backfill_commands import commands as backfill_commands
from cli.execution_commands import commands as execution_commands
from cli.flow_commands import commands as flow_commands
from cli.kv_commands import commands as kv_commands
from cli.namespace_file_commands import commands as namespace_file_commands
from cli.plugin_commands import commands as plugin_commands
from cli.run_command import commands as run_commands
from cli.server_commands import commands as server_commands
from cli.trigger_commands import commands as trigger_commands
from engine.command_options import CommandGroup
from executor.command import executor_command
from worker.command import worker_command


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="podium")
def main() -> None:
    """Podium runs Kestra-style YAML flows on Celery.

    \b
    Start here:
      podium flow validate flows/          check flow files, every problem at once
      podium run flows/hello_world.yaml    run a flow to its end on the embedded default
      podium server local --flows flows/   executor, worker and beat in one process
    """


for command in (*flow_commands, *plugin_commands, *run_commands, *execution_commands, *kv_commands,
                *namespace_file_commands, *server_commands, *backfill_commands, *trigger_commands,
                executor_command, worker_command, beat_command):
    main.add_command(command)
