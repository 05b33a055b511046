"""L4: ``podium kv ...``: the namespace key-value store from the command line."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from cli.client import echo_json, instance_options, user_errors
from engine.durations import DurationError, parse_duration
from engine.errors import NotFound


def _value_of(text: str, as_string: bool) -> Any:
    """JSON when the text is JSON (42, true, {"a": 1}, "quoted"), else the text itself."""
    if as_string:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _ttl(text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except DurationError as err:
        raise click.BadParameter(str(err), param_hint="--ttl") from None


@click.group("kv")
def kv_group() -> None:
    """Read and write a namespace's key-value store."""


@kv_group.command("set")
@click.argument("namespace")
@click.argument("key")
@click.argument("value", required=False)
@click.option("-f", "--file", "value_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the value from this file.")
@click.option("--ttl", help="Expire after this ISO-8601 duration (e.g. PT1H).")
@click.option("--string", "as_string", is_flag=True, help="Store the value as text even if it is JSON.")
@instance_options
@user_errors
def set_command(namespace: str, key: str, value: str | None, value_file: Path | None, ttl: str | None,
                as_string: bool, config_file: str | None, data_dir: Path | None) -> None:
    """Set KEY in NAMESPACE to VALUE (JSON values keep their type)."""
    if (value is None) == (value_file is None):
        raise click.UsageError("give the value either as an argument or with --file")
    text = value_file.read_text() if value_file is not None else str(value)
    from cli.reads import instance_place, open_database
    from engine.persistence.kv_entries import KVRepository

    KVRepository(open_database(instance_place(config_file, data_dir))).set(
        namespace, key, _value_of(text, as_string), datetime.now(UTC), ttl=_ttl(ttl))
    click.echo(f"{namespace}/{key} set")


@kv_group.command("get")
@click.argument("namespace")
@click.argument("key")
@instance_options
@user_errors
def get_command(namespace: str, key: str, config_file: str | None, data_dir: Path | None) -> None:
    """Print the value of KEY in NAMESPACE (as JSON)."""
    from cli.reads import instance_place, open_reads

    entry = open_reads(instance_place(config_file, data_dir)).kv_get(namespace, key, datetime.now(UTC))
    if entry is None:
        raise NotFound(f"no key '{key}' in namespace {namespace}; list them with `podium kv list {namespace}`")
    echo_json(entry.value)


@kv_group.command("list")
@click.argument("namespace")
@click.option("--json", "as_json", is_flag=True)
@instance_options
@user_errors
def list_command(namespace: str, as_json: bool, config_file: str | None, data_dir: Path | None) -> None:
    """The keys of NAMESPACE with their type, update date and expiry."""
    from cli.reads import instance_place, open_reads

    entries = open_reads(instance_place(config_file, data_dir)).kv_list(namespace, datetime.now(UTC))
    if as_json:
        echo_json([{"key": e.key, "type": e.type, "updated": e.updated, "expirationDate": e.expiration}
                   for e in entries])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("key", "type", "updated", "expires"):
        table.add_column(column)
    for entry in entries:
        kind = entry.type.value if hasattr(entry.type, "value") else entry.type
        table.add_row(entry.key, str(kind), str(entry.updated or ""), str(entry.expiration or ""))
    Console().print(table)


@kv_group.command("delete")
@click.argument("namespace")
@click.argument("key")
@instance_options
@user_errors
def delete_command(namespace: str, key: str, config_file: str | None, data_dir: Path | None) -> None:
    """Delete KEY from NAMESPACE."""
    from cli.reads import instance_place, open_database
    from engine.persistence.kv_entries import KVRepository

    if not KVRepository(open_database(instance_place(config_file, data_dir))).delete(namespace, key):
        raise NotFound(f"no key '{key}' in namespace {namespace}")
    click.echo(f"{namespace}/{key} deleted")


commands = [kv_group]
