"""L2 adapter: runs the ``storage`` tasks on internal-storage files (Concat, Split, Reverse,
Size, Delete, LocalFiles, PurgeCurrentExecutionFiles).

Text files are handled line by line with ``separator`` as Kestra's ``StorageService`` does: every
written line is followed by the separator.
"""
from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from engine.ids import new_id
from engine.plugins.core.storage import (
    ConcatOptions,
    DeleteOptions,
    LocalFilesOptions,
    PurgeCurrentExecutionFilesOptions,
    ReverseOptions,
    SizeOptions,
    SplitOptions,
)
from engine.storage.access import is_file_uri
from engine.tasks.context import RunContext, safe_relative_path
from engine.tasks.outcome import TaskFailed
from engine.tasks.props import as_bool, as_int, as_list, as_text

_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?B?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024 ** 2, "MB": 1024 ** 2,
          "G": 1024 ** 3, "GB": 1024 ** 3, "T": 1024 ** 4, "TB": 1024 ** 4}


def run_concat(options: ConcatOptions, ctx: RunContext) -> dict[str, Any]:
    files = [str(uri) for uri in as_list(ctx, options.files, "files")]
    separator = (ctx.render_text(options.separator) or "").encode("utf-8")
    buffer = io.BytesIO()
    for index, uri in enumerate(files):
        buffer.write(ctx.read_file(_uri(uri)))
        if separator and index < len(files) - 1:
            buffer.write(separator)
    extension = ctx.render_text(options.extension) or ""
    return {"uri": ctx.put_output_file(new_id() + extension, buffer.getvalue())}


def run_split(options: SplitOptions, ctx: RunContext) -> dict[str, Any]:
    source = _uri(as_text(ctx, options.from_, "from"))
    separator = ctx.render_text(options.separator) or "\n"
    rows = _rows(ctx.read_file(source).decode("utf-8"), separator)
    parts: Iterable[list[str]]
    if options.bytes is not None:
        parts = _by_bytes(rows, separator, parse_size(as_text(ctx, options.bytes, "bytes")))
    elif options.partitions is not None:
        parts = _by_partitions(rows, as_int(ctx, options.partitions, "partitions"))
    else:
        parts = _by_rows(rows, as_int(ctx, options.rows, "rows"))
    extension = PurePosixPath(source).suffix
    base = new_id()
    uris = [ctx.put_output_file(f"{base}-{index}{extension}", _join(part, separator))
            for index, part in enumerate(p for p in parts if p)]
    return {"uris": uris}


def run_reverse(options: ReverseOptions, ctx: RunContext) -> dict[str, Any]:
    source = _uri(as_text(ctx, options.from_, "from"))
    separator = ctx.render_text(options.separator) or "\n"
    charset = ctx.render_text(options.charset) or "UTF-8"
    rows = _rows(ctx.read_file(source).decode(charset), separator)
    data = "".join(row + separator for row in reversed(rows)).encode(charset)
    return {"uri": ctx.put_output_file(new_id() + PurePosixPath(source).suffix, data)}


def run_size(options: SizeOptions, ctx: RunContext) -> dict[str, Any]:
    return {"size": ctx.file_size(_uri(as_text(ctx, options.uri, "uri")))}


def run_delete(options: DeleteOptions, ctx: RunContext) -> dict[str, Any]:
    uri = _uri(as_text(ctx, options.uri, "uri"))
    deleted = ctx.delete_file(uri)
    if not deleted and as_bool(ctx, options.error_on_missing, "errorOnMissing"):
        raise TaskFailed(f"Unable to find file '{uri}'")
    return {"uri": uri, "deleted": deleted}


def run_local_files(options: LocalFilesOptions, ctx: RunContext) -> dict[str, Any]:
    """Writes ``inputs`` into the working directory, then stores the files matching ``outputs``."""
    root = ctx.working_dir
    for name, content in _inputs(options, ctx).items():
        target = root / safe_relative_path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else json.dumps(content)
        target.write_bytes(ctx.read_file(text) if is_file_uri(text) else text.encode("utf-8"))
    globs = [str(g) for g in ctx.render(options.outputs or [])]
    uris = {relative: ctx.put_file(root / relative, relative) for relative in _matching(root, globs)}
    return {"uris": uris}


def run_purge_current_execution_files(options: PurgeCurrentExecutionFilesOptions,
                                      ctx: RunContext) -> dict[str, Any]:
    deleted = [uri for uri in list(ctx.storage.list(ctx.execution_prefix())) if ctx.storage.delete(uri)]
    return {"uris": deleted}


def parse_size(text: str) -> int:
    """``10MB`` -> 10485760 (binary units, as Micronaut's readable bytes)."""
    match = _SIZE.match(text)
    if not match:
        raise TaskFailed(f"property 'bytes': '{text}' is not a size; write e.g. 1024, 512KB or 10MB")
    return int(match.group(1)) * _UNITS[(match.group(2) or "").upper()]


def _uri(text: str) -> str:
    if not is_file_uri(text):
        raise TaskFailed(f"'{text}' is not a file URI: expected kestra:///..., nsfile:///path or file:///path")
    return text


def _rows(text: str, separator: str) -> list[str]:
    rows = text.split(separator)
    return rows[:-1] if rows and rows[-1] == "" else rows  # a trailing separator ends the last row


def _join(rows: list[str], separator: str) -> bytes:
    return "".join(row + separator for row in rows).encode("utf-8")


def _by_rows(rows: list[str], size: int) -> list[list[str]]:
    if size < 1:
        raise TaskFailed("property 'rows' must be at least 1")
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def _by_partitions(rows: list[str], count: int) -> list[list[str]]:
    if count < 1:
        raise TaskFailed("property 'partitions' must be at least 1")
    parts: list[list[str]] = [[] for _ in range(count)]
    for index, row in enumerate(rows):
        parts[index % count].append(row)  # round robin, as Kestra's StorageService
    return parts


def _by_bytes(rows: list[str], separator: str, limit: int) -> Iterator[list[str]]:
    current: list[str] = []
    written = 0
    for row in rows:
        current.append(row)
        written += len((row + separator).encode("utf-8"))
        if written >= limit:
            yield current
            current, written = [], 0
    yield current


def _inputs(options: LocalFilesOptions, ctx: RunContext) -> dict[str, Any]:
    rendered = ctx.render(options.inputs)
    if isinstance(rendered, str):
        try:
            rendered = json.loads(rendered)
        except json.JSONDecodeError:
            raise TaskFailed("property 'inputs' must be a map of file name to content, or a JSON object") from None
    if rendered is None:
        return {}
    if not isinstance(rendered, dict):
        raise TaskFailed(f"property 'inputs' must be a map, got {type(rendered).__name__}")
    return rendered


def _matching(root: Path, globs: Iterable[str]) -> list[str]:
    patterns = [glob_regex(g) for g in globs]
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return [f for f in files if any(pattern.match(f) for pattern in patterns)]


def glob_regex(glob: str) -> re.Pattern[str]:
    """A Java-style glob: ``*`` stays inside one folder, ``**`` crosses folders, ``?`` one char."""
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")
