"""Turning dragged-in files into labelled demonstrations: a label per file, editable in a table."""

from __future__ import annotations

import re
import shutil
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


def rows_from_files(paths: list[str] | None, rows=None) -> list[list[str]]:
    """Table rows [file name, label] for the files, keeping the labels of rows that still name the same file
    at the same place (several files may share a name, e.g. ``five/take.wav`` and ``nine/take.wav``)."""
    rows = [r for r in _rows(rows) if len(r) >= 2]
    out = []
    for i, p in enumerate(paths or []):
        name = Path(p).name
        kept = rows[i][1] if i < len(rows) and str(rows[i][0]) == name and str(rows[i][1]).strip() else None
        out.append([name, str(kept) if kept is not None else label_from_path(p)])
    return out


def labelled_files(paths: list[str] | None, rows) -> list[tuple[str, str]]:
    """(path, label) pairs. The table lists the files in order, so row i labels file i; when the counts
    differ (the table was not refreshed yet), rows are matched by file name."""
    paths, rows = list(paths or []), [r for r in _rows(rows) if len(r) >= 2]
    if len(rows) == len(paths):
        return [(p, str(r[1]).strip() or label_from_path(p)) for p, r in zip(paths, rows, strict=True)]
    table = {str(row[0]): str(row[1]) for row in rows}
    return [(p, table.get(Path(p).name, label_from_path(p))) for p in paths]


def add_recording(recording: str | None, label: str | None, paths: list[str] | None, rows) -> tuple[list, list]:
    """Append a recorded (or uploaded) clip to the demonstrations under ``label``: (files, table rows).

    The clip is copied next to itself as ``<label>-<n>.wav`` (inside the server's upload cache), so that the
    file name says its label, as for dragged-in files. Raises ``ValueError`` without a clip or a label."""
    if not recording:
        raise ValueError("Record (or upload) a clip first, then add it with its label.")
    label = (label or "").strip()
    if not label:
        raise ValueError("Type the label of the recorded clip (what it says or what it is) before adding it.")
    paths, rows = list(paths or []), rows_from_files(paths, rows)
    safe = re.sub(r"[^\w\- ]+", "", label).strip().replace(" ", "_") or "clip"
    source = Path(recording)
    target = source.with_name(f"{safe}-{len(paths) + 1}{source.suffix or '.wav'}")
    shutil.copyfile(source, target)
    return [*paths, str(target)], [*rows, [target.name, label]]


def _rows(rows) -> list[list]:
    if rows is None:
        return []
    if hasattr(rows, "values") and hasattr(rows, "columns"):  # a pandas DataFrame from gr.Dataframe
        return rows.values.tolist()
    return list(rows)


def audio_files(label: str, elem_id: str):
    """A drop zone for several audio files, given to handlers as paths."""
    import gradio as gr

    return gr.File(label=label, file_count="multiple", type="filepath", file_types=["audio"], elem_id=elem_id)


def support_editor(files_label: str, column: str, table_label: str, on_error=None, elem_id: str = "support"):
    """A multi-file drop zone, its editable two-column table (file name, ``column``), and a microphone to
    record a demonstration and add it with its ``column`` value. Must be called inside a ``gr.Blocks``
    context; returns (files, table). ``on_error`` wraps the add handler (the app's error reporting); the
    files and the table get the element ids ``<elem_id>-files`` and ``<elem_id>-table``."""
    import gradio as gr

    files = audio_files(files_label, f"{elem_id}-files")
    table = gr.Dataframe(
        elem_id=f"{elem_id}-table",
        headers=["clip", column],
        datatype=["str", "str"],
        column_count=(2, "fixed"),
        label=table_label,
        interactive=True,
    )
    title = f"Record a demonstration with the microphone, then add it with its {column}"
    with gr.Accordion(title, open=False), gr.Row():
        recording = gr.Audio(label="Recording", sources=["microphone", "upload"], type="filepath", scale=3)
        with gr.Column(scale=2):
            value = gr.Textbox(label=f"Its {column}", placeholder="e.g. yes")
            add = gr.Button("Add to the demonstrations")
    handler = on_error(add_recording) if on_error else add_recording
    add.click(handler, [recording, value, files, table], [files, table], api_visibility="private")
    return files, table
