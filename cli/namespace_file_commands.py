"""L4: ``podium namespace-files ...``: files shared by a namespace's flows (``read('path')``)."""
from __future__ import annotations

from pathlib import Path

import click

from cli.client import echo_json, instance_options, user_errors
from engine.storage.uris import namespace_file_uri, namespace_files_root


@click.group("namespace-files")
def namespace_files_group() -> None:
    """Upload and list a namespace's files (read in flows with read('path'))."""


@namespace_files_group.command("upload")
@click.argument("namespace")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("destination", default="/")
@instance_options
@user_errors
def upload_command(namespace: str, source: Path, destination: str, config_file: str | None,
                   data_dir: Path | None) -> None:
    """Upload SOURCE (a file, or a folder recursively) under DESTINATION (default /)."""
    from cli.reads import instance_place
    from engine.storage.local import LocalStorage

    storage = LocalStorage(instance_place(config_file, data_dir).storage_dir)  # files only: no database
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    base = source.parent if source.is_file() else source
    for path in files:
        target = "/".join(part for part in (destination.strip("/"), path.relative_to(base).as_posix()) if part)
        with path.open("rb") as handle:
            storage.put(namespace_file_uri(namespace, target), handle)
        click.echo(f"uploaded {target}")
    click.echo(f"{len(files)} file(s) uploaded to namespace {namespace}")


@namespace_files_group.command("list")
@click.argument("namespace")
@click.option("--json", "as_json", is_flag=True)
@instance_options
@user_errors
def list_command(namespace: str, as_json: bool, config_file: str | None, data_dir: Path | None) -> None:
    """Every file of NAMESPACE, with its size."""
    from cli.reads import instance_place
    from engine.storage.local import LocalStorage

    storage = LocalStorage(instance_place(config_file, data_dir).storage_dir)  # files only: no database
    root = namespace_files_root(namespace).rstrip("/") + "/"
    rows = [{"path": uri[len(root):], "size": storage.size(uri)} for uri in storage.list(root)]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['size']:>10}  {row['path']}")
    click.echo(f"{len(rows)} file(s)")


commands = [namespace_files_group]
