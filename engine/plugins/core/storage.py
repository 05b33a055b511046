"""L1 pure core: options and specs of the ``storage`` tasks (files in internal storage).

Run by :mod:`engine.tasks.storage_tasks` (Concat, Split, Reverse, Size, Delete, LocalFiles,
PurgeCurrentExecutionFiles). FilterItems and DeduplicateItems validate but are not run yet.
"""
from __future__ import annotations

from typing import Any

from pydantic import model_validator

from engine.model.task import TaskOptions, dynamic
from engine.plugins.base import PluginKind, PluginSpec
from engine.plugins.core.task_props import DynBool, DynInt

PREFIX = "io.kestra.plugin.core.storage."
LEGACY = "io.kestra.core.tasks.storages."


class ConcatOptions(TaskOptions):
    files: list[str] | str = dynamic(
        ..., "File URIs (kestra://, nsfile://, file://) to concatenate, as a list or a JSON array string.")
    separator: str | None = dynamic(None, "Text written between two files.")
    extension: str = dynamic(".tmp", "Extension of the resulting file.")


class SplitOptions(TaskOptions):
    from_: str = dynamic(..., "URI of the file to split (kestra://, nsfile://, file://).")
    bytes: str | None = dynamic(None, "Largest part size, e.g. 10MB, 512KB or 1024.")
    partitions: DynInt | None = dynamic(None, "Number of parts.")
    rows: DynInt | None = dynamic(None, "Rows per part.")
    separator: str = dynamic("\n", "Row separator.")

    @model_validator(mode="after")
    def _one_split_rule(self) -> SplitOptions:
        chosen = [name for name in ("bytes", "partitions", "rows") if getattr(self, name) is not None]
        # Kestra's precedence when several are set: bytes, then partitions, then rows.
        if not chosen:
            raise ValueError("set one of 'bytes', 'partitions' or 'rows' to say how to split the file")
        return self


class ReverseOptions(TaskOptions):
    from_: str = dynamic(..., "URI of the file whose lines are reversed (kestra://, nsfile://, file://).")
    separator: str = dynamic("\n", "Line separator.")
    charset: str = dynamic("UTF-8", "Text encoding of the file.")


class SizeOptions(TaskOptions):
    uri: str = dynamic(..., "URI of the file (kestra://, nsfile://, file://).")


class DeleteOptions(TaskOptions):
    uri: str = dynamic(..., "kestra:// URI of the file to delete.")
    error_on_missing: DynBool = dynamic(False, "Fail when the file does not exist.")


class LocalFilesOptions(TaskOptions):
    inputs: dict[str, Any] | str | None = dynamic(
        None, "Files to create in the working directory: path -> content (text, or a kestra://, nsfile:// "
              "or file:// URI).")
    outputs: list[str] | None = dynamic(None, "Globs of working-directory files to send to internal storage.")


class PurgeCurrentExecutionFilesOptions(TaskOptions):
    pass


class FilterItemsOptions(TaskOptions):
    from_: str = dynamic(...)
    filter_condition: str = dynamic(...)
    filter_type: str = "INCLUDE"
    error_or_null_behavior: str = "FAIL"


class DeduplicateItemsOptions(TaskOptions):
    from_: str = dynamic(...)
    expr: str = dynamic(...)


def _spec(name: str, options: type[TaskOptions], title: str, function: str | None, *,
          legacy: tuple[str, ...] | None = None, examples: tuple[str, ...] = (),
          **kwargs: Any) -> PluginSpec:
    aliases = legacy if legacy is not None else (LEGACY + name,)
    return PluginSpec(type=PREFIX + name, kind=PluginKind.RUNNABLE, options=options, title=title,
                      aliases=aliases, examples=examples,
                      implementation=f"engine.tasks.storage_tasks:{function}" if function else None, **kwargs)


SPECS: list[PluginSpec] = [
    _spec("Concat", ConcatOptions, "Concatenate files of internal storage into one.", "run_concat",
          examples=('files:\n  - "{{ outputs.a.uri }}"\n  - "{{ outputs.b.uri }}"\nseparator: "\\n"',)),
    _spec("Split", SplitOptions, "Split a file into parts by size, row count or number of parts.",
          "run_split", examples=('from: "{{ outputs.download.uri }}"\nrows: 1000',)),
    _spec("Reverse", ReverseOptions, "Reverse the order of the lines of a file.", "run_reverse",
          examples=('from: "{{ outputs.download.uri }}"',)),
    _spec("Size", SizeOptions, "Get the size of a file in bytes.", "run_size",
          examples=('uri: "{{ outputs.download.uri }}"',)),
    _spec("Delete", DeleteOptions, "Delete a file from internal storage.", "run_delete",
          examples=('uri: "{{ outputs.download.uri }}"',)),
    _spec("LocalFiles", LocalFilesOptions, "Create files in the working directory, or send some to storage "
          "(deprecated: use inputFiles / outputFiles).", "run_local_files", deprecated=True,
          examples=('inputs:\n  hello.txt: "Hello World"\noutputs:\n  - "*.txt"',)),
    _spec("PurgeCurrentExecutionFiles", PurgeCurrentExecutionFilesOptions,
          "Delete every internal-storage file of the current execution.", "run_purge_current_execution_files",
          legacy=(LEGACY + "PurgeExecution", PREFIX + "PurgeExecution")),
    _spec("FilterItems", FilterItemsOptions, "Filter the items of an ION file with an expression.",
          "run_filter_items", implemented=False),
    _spec("DeduplicateItems", DeduplicateItemsOptions, "Remove duplicate items of an ION file.",
          "run_deduplicate_items", implemented=False),
]
