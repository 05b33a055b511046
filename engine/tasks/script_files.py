"""L2 adapter: the files of a script task's working directory, in and out (Kestra's
``PluginUtilsService``, ``NamespaceFilesUtils``, ``ScriptService.replaceInternalStorage``).

In: ``inputFiles`` (inline text, or a ``kestra://``, ``nsfile://`` or ``file://`` URI whose file
is copied, under the file access rules of ``engine.storage.access``), ``namespaceFiles``, and the
``kestra://`` URIs found in the rendered commands, downloaded and replaced by their local path.
Out: the files matching ``outputFiles`` and every file under the output directory, stored as the
task run's output files.
"""
from __future__ import annotations

import fnmatch
import glob
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.plugins.ext.scripts import NamespaceFiles
from engine.storage import uris
from engine.storage.access import is_file_uri
from engine.storage.base import StorageError
from engine.tasks.context import RunContext
from engine.tasks.outcome import TaskFailed

_INTERNAL_URI = re.compile(r"kestra://[-a-zA-Z0-9%._+~#=/]*")


def check_relative(name: str, what: str) -> str:
    """``name`` if it is a relative path inside the working directory (Kestra's validFilename)."""
    if not name or name.startswith(("/", "./", "..")) or "\0" in name or ".." in Path(name).parts:
        raise TaskFailed(f"{what}: '{name}' must be a relative path inside the working directory "
                         "(no leading '/', './' or '..')")
    return name


def write_input_files(ctx: RunContext, raw: Mapping[str, Any] | str | None, folder: Path,
                      extra: Mapping[str, Any]) -> None:
    """Creates each of ``inputFiles`` in ``folder``; a URI value is copied from where it leads."""
    if raw is None:
        return
    files = _input_map(ctx, raw, extra)
    for name, content in files.items():
        target = folder / check_relative(str(ctx.render(name, extra=extra)), "inputFiles")
        target.parent.mkdir(parents=True, exist_ok=True)
        if is_file_uri(content):
            target.write_bytes(_read(ctx, content, f"inputFiles '{name}'"))
        else:
            target.write_text(content, encoding="utf-8")


def _input_map(ctx: RunContext, raw: Mapping[str, Any] | str, extra: Mapping[str, Any]) -> dict[str, str]:
    rendered = ctx.render(raw, extra=extra)
    if isinstance(rendered, str):
        try:
            rendered = json.loads(rendered)
        except json.JSONDecodeError:
            raise TaskFailed("inputFiles: a string must render to a JSON object of {path: content}") from None
    if not isinstance(rendered, Mapping):
        raise TaskFailed(f"inputFiles must be a map of {{path: content}}, got {type(rendered).__name__}")
    return {str(key): value if isinstance(value, str) else json.dumps(value)
            for key, value in rendered.items() if value is not None}


def copy_namespace_files(ctx: RunContext, options: NamespaceFiles | None, folder: Path) -> None:
    """Copies the namespace files ``options`` selects into ``folder`` (the flow's namespace by
    default; ``namespaces`` others it may read, later ones overwriting earlier ones)."""
    if options is None or not options.enabled:
        return
    namespaces = [str(ns) for ns in ctx.render(options.namespaces)] if options.namespaces else [ctx.namespace]
    include = [str(p) for p in ctx.render(options.include or [])]
    exclude = [str(p) for p in ctx.render(options.exclude or [])]
    for namespace in namespaces:
        if not ctx.file_scope.may_read_namespace(namespace):
            raise TaskFailed(f"namespaceFiles: a flow of '{ctx.namespace}' reads the namespace files of "
                             f"{ctx.file_scope.describe_namespaces()} only, not of '{namespace}'")
        root = uris.namespace_files_root(namespace)
        depth = len(uris.segments(root))
        for uri in ctx.storage.list(root):
            path = "/".join(uris.segments(uri)[depth:])
            if _selected(path, include, exclude):
                where = f"{namespace}/{path}" if options.folder_per_namespace else path
                target = folder / check_relative(where, "namespaceFiles")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(ctx.storage.get(uri))


def _selected(path: str, include: list[str], exclude: list[str]) -> bool:
    def matches(patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(path, p.lstrip("/")) or fnmatch.fnmatchcase("/" + path, p)
                   for p in patterns)

    return (not include or matches(include)) and not matches(exclude)


def download_internal_uris(ctx: RunContext, text: str, folder: Path, seen_as: Callable[[Path], str],
                           done: dict[str, str]) -> str:
    """``text`` with every ``kestra://`` URI replaced by the local path of its file, downloaded
    into ``folder`` once per attempt (``done``: URI to path, as the command sees it: ``seen_as``)."""
    def replace(found: re.Match[str]) -> str:
        uri = found.group(0)
        if uri not in done:
            name = uri.rstrip("/").rsplit("/", 1)[-1] or "file"
            target = _free_name(folder, name)
            target.write_bytes(_read(ctx, uri, "a kestra:// URI in the commands"))
            done[uri] = seen_as(target)
        return done[uri]

    return _INTERNAL_URI.sub(replace, text) if "kestra://" in text else text


def _free_name(folder: Path, name: str) -> Path:
    target, number = folder / name, 1
    while target.exists():
        target, number = folder / f"{number}-{name}", number + 1
    return target


def _read(ctx: RunContext, uri: str, what: str) -> bytes:
    try:
        return ctx.read_file(uri)
    except (StorageError, OSError) as error:
        raise TaskFailed(f"{what}: {error}") from None


def collect_output_files(ctx: RunContext, patterns: list[str], folder: Path, output_dir: Path) -> dict[str, str]:
    """Stores the files of ``folder`` matching ``patterns`` and every file under ``output_dir``;
    returns ``{relative path: kestra:// URI}``."""
    found: dict[str, Path] = {}
    root = folder.resolve()
    for pattern in patterns:
        check_relative(pattern, "outputFiles")
        for match in sorted(glob.glob(glob.escape(str(folder)) + "/" + pattern, recursive=True)):
            path = Path(match)
            if path.is_file() and root in path.resolve().parents:
                found[path.relative_to(folder).as_posix()] = path
    if output_dir.is_dir():
        for path in sorted(output_dir.rglob("*")):
            if path.is_file() and not path.is_symlink():
                found[path.relative_to(output_dir).as_posix()] = path
    return {name: ctx.put_file(path, name) for name, path in found.items()}
