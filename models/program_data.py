"""A deployment's program data (``PROGRAM_DATA_DIR``, CONTRACTS.md §3): the files it may hold and
the one error a file that cannot be taken raises.

The folder has the shipped files' formats: ``programs/<any name>.json`` (``{"versions": […]}``),
``mrp.json`` and ``gas_tariffs.json``. What it adds is merged with the shipped data when the
process starts (:func:`models.programs.load_programs`, :func:`models.reference.load_reference`);
a file that contradicts a shipped, published figure or version is refused, naming the file and
the field, and the process does not start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

__all__ = ["KNOWN_FILES", "ProgramDataError", "field_of", "read_json", "unknown_files"]

# The top-level files a deployment folder may hold; ``programs/`` holds the versions.
KNOWN_FILES = frozenset({"mrp.json", "gas_tariffs.json"})


class ProgramDataError(ValueError):
    """A deployment's file cannot be taken: which file, which field, and why."""

    def __init__(self, file: Path, field: str, detail: str) -> None:
        super().__init__(f"PROGRAM_DATA_DIR file {file}: field {field or '(whole file)'}: {detail}")
        self.file = file
        self.field = field
        self.detail = detail


def read_json(file: Path) -> Any:
    """The JSON of ``file``, or :class:`ProgramDataError` saying why it cannot be read."""
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as unreadable:
        raise ProgramDataError(file, "", f"not readable JSON ({unreadable})") from unreadable


def unknown_files(data_dir: Path) -> list[Path]:
    """Files of the folder the product would not read (a misspelt ``mrp.json`` is not ignored)."""
    if not data_dir.is_dir():
        raise ProgramDataError(data_dir, "", "not a folder")
    return sorted(
        path
        for path in data_dir.iterdir()
        if not path.name.startswith(".")
        and path.name not in KNOWN_FILES
        and not (path.name == "programs" and path.is_dir())
    )


def field_of(invalid: ValidationError, prefix: str = "") -> str:
    """The dotted path of the first invalid field of a validation error."""
    errors = invalid.errors()
    path = ".".join(str(part) for part in errors[0]["loc"]) if errors else ""
    return f"{prefix}.{path}" if prefix and path else prefix or path
