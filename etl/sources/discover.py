"""Which files a load reads: the files it is given, and every supported file inside a folder it is given."""

from __future__ import annotations

from pathlib import Path

from app.core.records import SourceNotes, StructuralError
from etl.sources.detect import detect_format


def source_files(paths: list[Path], fmt: str, notes: SourceNotes) -> list[tuple[Path, str]]:
    """(file, format) of every file to load, in order; folders give their files sorted by name.

    A file named directly must be readable and in a supported format (else StructuralError). Inside a
    folder, empty files and files in no supported format are skipped and noted; a folder with no
    supported file at all is refused, naming what it holds.
    """
    files: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            files.extend(_folder_files(path, fmt, notes))
        elif not path.exists():
            raise StructuralError(f"{path}: no such file or folder")
        else:
            files.append((path, detect_format(path) if fmt == "auto" else fmt))
    return files


def _folder_files(folder: Path, fmt: str, notes: SourceNotes) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    skipped: list[str] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix == ".npy":
            continue
        if path.stat().st_size == 0:
            notes.note(f"skipped empty file {path}")
            skipped.append(f"{path.name} (empty)")
            continue
        if fmt != "auto":
            found.append((path, fmt))
            continue
        try:
            found.append((path, detect_format(path)))
        except StructuralError as exc:
            notes.note(f"skipped {exc}")
            skipped.append(path.name)
    if not found:
        from etl.sources import FORMATS

        held = ", ".join(skipped[:10]) if skipped else "nothing"
        raise StructuralError(
            f"{folder}: a folder with no file in a supported format ({', '.join(FORMATS)}); it holds {held}"
        )
    return found
