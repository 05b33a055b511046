"""L3: the file work of ForEachItem: splitting its items into batches, merging child outputs."""
from __future__ import annotations

import json

from engine.executor.commands import SplitItems
from engine.model.execution import Execution
from engine.storage.access import FileAccess
from engine.storage.base import Storage
from engine.storage.scopes import ReaderScope
from engine.storage.uris import task_output_uri

_UNITS = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}


def split_items(files: FileAccess, execution: Execution, command: SplitItems) -> tuple[list[str], str | None]:
    """The batch URIs and the ``splits`` file listing them, one a line (Kestra's ``_split``).

    Writes one batch file per ``rows`` lines (or per ``bytes``, or into ``partitions``) of the
    items file, which must be one ``execution`` may read (FileRefused otherwise). With
    ``command.listed`` the items file is such a ``splits`` file: its batches are read, not written."""
    text = files.read(command.items, ReaderScope.of(execution)).decode("utf-8")
    if command.listed:
        return [line for line in text.splitlines() if line], command.items
    storage = files.storage
    lines = [line for line in text.split(command.separator) if line != ""]
    batches = _batches(lines, command)
    run = execution.task_run(command.task_run_id)

    def put(name: str, data: str) -> str:
        uri = task_output_uri(execution.namespace, execution.flow_id, execution.id, run.task_id, run.id, name)
        return storage.put(uri, data.encode())

    uris = [put(f"batch-{index}.ion", command.separator.join(batch) + command.separator)
            for index, batch in enumerate(batches, start=1)]
    return uris, put("splits.txt", "".join(uri + "\n" for uri in uris))


def _batches(lines: list[str], command: SplitItems) -> list[list[str]]:
    if command.partitions:
        size = max(1, -(-len(lines) // command.partitions))
        return [lines[i:i + size] for i in range(0, len(lines), size)]
    if command.bytes:
        limit = _parse_bytes(command.bytes)
        batches: list[list[str]] = [[]]
        used = 0
        for line in lines:
            cost = len(line.encode()) + len(command.separator)
            if batches[-1] and used + cost > limit:
                batches.append([])
                used = 0
            batches[-1].append(line)
            used += cost
        return [b for b in batches if b]
    rows = command.rows or 1
    return [lines[i:i + rows] for i in range(0, len(lines), rows)]


def _parse_bytes(text: str) -> int:
    text = text.strip().upper()
    for unit in ("GB", "MB", "KB", "B"):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * _UNITS[unit])
    return int(text)


def merge_outputs(storage: Storage, execution: Execution, task_run_id: str,
                  children: list[Execution]) -> str | None:
    """One JSON line per child with outputs (Kestra writes ION; each line is also valid ION)."""
    lines = [json.dumps(child.outputs, default=str) for child in children if child.outputs]
    if not lines:
        return None
    run = execution.task_run(task_run_id)
    uri = task_output_uri(execution.namespace, execution.flow_id, execution.id, run.task_id, run.id,
                          "outputs.ion")
    return storage.put(uri, ("\n".join(lines) + "\n").encode())


