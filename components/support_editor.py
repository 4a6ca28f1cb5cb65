"""Turning dragged-in files into labelled demonstrations: a label per file, editable in a table."""

from __future__ import annotations

import re
from pathlib import Path

GENERIC_FOLDERS = {"", ".", "tmp", "gradio", "uploads", "audio", "clips", "files"}


def label_from_path(path: str) -> str:
    """The folder name when it looks like a label (``five/take1.wav`` → five), else the file name without
    trailing numbers (``dog_03.wav`` → dog, ``break glass-2.flac`` → break glass)."""
    file = Path(path)
    folder = file.parent.name
    if folder.lower() not in GENERIC_FOLDERS and not re.fullmatch(r"[0-9a-f]{16,}|tmp\w*", folder):
        return folder.replace("_", " ")
    stem = re.sub(r"[\s_\-.]*\d+$", "", file.stem)
    return (stem or file.stem).replace("_", " ").strip()


def rows_from_files(paths: list[str] | None, labels: dict[str, str] | None = None) -> list[list[str]]:
    """Table rows [file name, label] for the files, keeping labels the user already typed."""
    labels = labels or {}
    return [[Path(p).name, labels.get(Path(p).name, label_from_path(p))] for p in paths or []]


def labelled_files(paths: list[str] | None, rows) -> list[tuple[str, str]]:
    """(path, label) pairs: each file with the label its table row gives (rows matched by file name)."""
    table = {str(row[0]): str(row[1]) for row in _rows(rows) if len(row) >= 2}
    return [(p, table.get(Path(p).name, label_from_path(p))) for p in paths or []]


def _rows(rows) -> list[list]:
    if rows is None:
        return []
    if hasattr(rows, "values") and hasattr(rows, "columns"):  # a pandas DataFrame from gr.Dataframe
        return rows.values.tolist()
    return list(rows)
