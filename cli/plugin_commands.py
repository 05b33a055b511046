"""L4: ``podium plugins ...``: the plugin types Podium knows, and their JSON schemas."""
from __future__ import annotations

import json
import sys

import click

from cli.client import load_registry
from engine.plugins.kinds import PluginKind


@click.group("plugins")
def plugins_group() -> None:
    """List plugin types (tasks, triggers, conditions, task runners) and print their schemas."""


@plugins_group.command("list")
@click.option("--kind", type=click.Choice([k.value for k in PluginKind]), help="Only this kind of type.")
@click.option("--aliases", is_flag=True, help="Also show each type's legacy names.")
def list_command(kind: str | None, aliases: bool) -> None:
    """Every known type, one a line: type, kind, title. '(not implemented yet)' marks the types
    that validate but cannot run yet."""
    registry = load_registry()
    specs = registry.specs(PluginKind(kind) if kind else None)
    width = max((len(s.type) for s in specs), default=0)
    for spec in sorted(specs, key=lambda s: s.type):
        notes = " (not implemented yet)" if not spec.implemented else ""
        notes += " (deprecated)" if spec.deprecated else ""
        click.echo(f"{spec.type:<{width}}  {spec.kind.value:<16}  {spec.title}{notes}")
        if aliases:
            for alias in spec.aliases:
                click.echo(f"  alias {alias}")
    click.echo(f"{len(specs)} types", err=True)


@plugins_group.command("schema")
@click.option("--type", "type_name", metavar="TYPE", help="One type's schema instead of the whole flow's.")
@click.option("--indent", type=int, default=2, show_default=True)
def schema_command(type_name: str | None, indent: int) -> None:
    """Print the JSON schema (draft 7) of a flow, or of one plugin type with --type."""
    from engine.plugins.base import UnknownType
    from engine.schema import flow_schema, plugin_schema

    registry = load_registry()
    try:
        schema = plugin_schema(registry, type_name) if type_name else flow_schema(registry)
    except UnknownType as err:
        click.echo(f"error: {err}; `podium plugins list` shows the known types", err=True)
        sys.exit(1)
    click.echo(json.dumps(schema, indent=indent or None, ensure_ascii=False))


commands = [plugins_group]
