"""L2 adapter: the value a FILE input keeps, by who gave it (``engine.inputs.StoreFile``).

- The person at this machine (``podium run -i f=./data.csv``, ``podium execution start``,
  ``podium execution resume``) names files of this host: :class:`HostFiles` copies each into the
  execution's storage, ``/{ns}/{flow}/executions/{id}/inputs/{input}/{name}``, as an upload.
- Every other value is flow data (a Subflow's or ForEachItem's inputs, a trigger's, a Resume
  task's, a FILE input's ``defaults``): :class:`FlowFiles` keeps it only if it is a ``kestra://``,
  ``nsfile://`` or ``file://`` URI the new execution may read (engine/storage/access.py), and
  refuses a path of this host whatever it names.
"""
from __future__ import annotations

import os
import stat
from urllib.parse import unquote, urlsplit

from engine.storage.access import HOST_FILE, NSFILE, FileAccess, FileRefused, is_file_uri
from engine.storage.base import SCHEME, Storage, StoragePathError
from engine.storage.scopes import ExecutionRef, ReaderScope
from engine.storage.uris import input_file_uri


class FlowFiles:
    """FILE values that come from flows: a URI the execution may read, kept as it is."""

    def __init__(self, files: FileAccess, scope: ReaderScope) -> None:
        self.files, self.scope = files, scope

    def __call__(self, input_id: str, value: str, declared: bool = False) -> str:
        if not is_file_uri(value):
            raise ValueError("a FILE value given by a flow must be a kestra:///, nsfile:/// or file:/// URI; "
                             "a path of this host is read only from the command line "
                             "(podium run flow.yaml -i id=./data.csv)")
        try:
            self.files.locate(value, self.scope)
        except (FileRefused, StoragePathError) as err:
            raise ValueError(str(err)) from None
        return value


class HostFiles:
    """FILE values the person at this machine typed: host paths (or ``file://`` URIs) are uploaded;
    internal-storage and namespace-file URIs are kept; the flow's own ``defaults`` stay flow data."""

    def __init__(self, storage: Storage, execution: ExecutionRef, from_flow: FlowFiles) -> None:
        self.storage, self.execution, self.from_flow = storage, execution, from_flow

    def __call__(self, input_id: str, value: str, declared: bool = False) -> str:
        if declared:
            return self.from_flow(input_id, value, declared)
        if value.startswith((SCHEME, NSFILE)):
            return value
        path = unquote(urlsplit(value).path) if value.startswith(HOST_FILE) else value
        ref = self.execution
        uri = input_file_uri(ref.namespace, ref.flow_id, ref.execution_id, input_id, os.path.basename(path))
        if not stat.S_ISREG(os.stat(path).st_mode):  # a device or a pipe would never end
            raise ValueError(f"'{path}' is not a regular file")
        with open(path, "rb") as handle:
            return self.storage.put(uri, handle)
