"""L1 pure core: the ``FILE`` input model (``engine.model.input_types`` holds the others)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from engine.model.input_types import InputBase
from engine.model.input_values import as_file_uri, java_list


class FileInput(InputBase):
    """A file, named by URI: ``kestra:///`` (internal storage), ``nsfile:///`` (a namespace file) or
    ``file:///`` (a host file under the allowed paths). A host path typed at the CLI is uploaded and
    becomes a ``kestra:///`` URI before it is parsed (engine/storage/input_files.py)."""

    type_name = "FILE"
    type: Literal["FILE"]
    extension: str | None = Field(None, description="Extension of the stored file (default `.upl`).")
    allowed_file_extensions: list[str] | None = Field(
        None, min_length=1, description="Kestra 1.1: the extensions a file may have (`.csv`, `.txt`); "
                                        "any other is refused.")

    def parse(self, value: Any) -> Any:
        return as_file_uri(value)

    def check(self, value: Any) -> None:
        """Also called on a host path before it is uploaded, so a refused file is never stored."""
        if self.allowed_file_extensions is None:
            return
        allowed = [_dotted(e) for e in self.allowed_file_extensions]
        name = str(value).rstrip("/").rsplit("/", 1)[-1].lower()
        if not any(name.endswith(extension) and len(name) > len(extension) for extension in allowed):
            raise ValueError(f"the file must have one of the extensions {java_list(allowed)} "
                             "(the input's allowedFileExtensions)")


def _dotted(extension: str) -> str:
    extension = extension.strip().lower()
    return extension if extension.startswith(".") else "." + extension
