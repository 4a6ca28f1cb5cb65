"""The real app (real bundled models, real checkpoint) on 127.0.0.1, driven through gradio_client."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo_examples"


@pytest.fixture(scope="module")
def client(server_url):
    from gradio_client import Client

    return Client(server_url, verbose=False)


def table(rows: list[list[str]], headers: list[str]) -> dict:
    return {"headers": headers, "data": rows, "metadata": None}


def test_classify_through_the_api(client):
    from gradio_client import handle_file

    demos = [DEMO / f"commands/{w}/flite_slt.flac" for w in ("one", "two", "three")]
    rows = table([[p.name, w] for p, w in zip(demos, ("one", "two", "three"), strict=True)], ["clip", "label"])
    label, view, attention, _, _ = client.predict(
        [handle_file(str(p)) for p in demos],
        rows,
        handle_file(str(DEMO / "commands/two/flite_rms.flac")),
        "0",
        api_name="/classify",
    )
    assert label["label"] in ("one", "two", "three")
    assert abs(sum(c["confidence"] for c in label["confidences"]) - 1) < 1e-3
    assert len(attention["data"]) == 3


def test_codec_explorer_through_the_api(client):
    from gradio_client import handle_file

    tokens, before, after, level0, level01, full, stats = client.predict(
        handle_file(str(DEMO / "commands/seven/flite_slt.flac")), api_name="/explore"
    )
    assert "tokens/s" in stats and Path(full).is_file() and Path(level0).is_file()


def test_synthesize_through_the_api(client):
    from gradio_client import handle_file

    words = ["zero", "one", "two", "three"]
    files = [DEMO / f"tts/flite_slt/{i:02d}.flac" for i in range(4)]
    rows = table([[f.name, w] for f, w in zip(files, words, strict=True)], ["clip", "text"])
    audio, alone, view, timing = client.predict(
        [handle_file(str(f)) for f in files], rows, "3 1", api_name="/synthesize"
    )
    assert Path(audio).is_file() and Path(alone).is_file() and "tokens equal to" in timing


def test_enhance_and_a_bad_request_then_a_good_one(client):
    from gradio_client import handle_file

    noisy = [handle_file(str(DEMO / "enhance/pair00_noisy.flac"))]
    clean = [handle_file(str(DEMO / "enhance/pair00_clean.flac"))]
    with pytest.raises(Exception, match="as many clean clips"):
        client.predict(noisy, [], handle_file(str(DEMO / "enhance/pair01_noisy.flac")), api_name="/enhance")
    output, alone, before, after, view, timing = client.predict(
        noisy, clean, handle_file(str(DEMO / "enhance/pair01_noisy.flac")), api_name="/enhance"
    )
    assert Path(output).is_file() and Path(alone).is_file()


def test_enhancement_pairs_are_matched_by_their_uploaded_names(client):
    from gradio_client import handle_file

    # Uploaded in shuffled orders: each file lands in a folder named by its content hash.
    noisy = [handle_file(str(DEMO / f"enhance/pair0{i}_noisy.flac")) for i in (2, 0, 3, 1)]
    clean = [handle_file(str(DEMO / f"enhance/pair0{i}_clean.flac")) for i in (1, 3, 2, 0)]
    output, *_ = client.predict(noisy, clean, handle_file(str(DEMO / "enhance/pair04_noisy.flac")), api_name="/enhance")
    assert Path(output).is_file()


def test_ask_through_the_api(client):
    from gradio_client import handle_file

    clip = handle_file(str(DEMO / "commands/seven/flite_slt.flac"))
    instruction = "<speech>\nWhich number is this? Answer with the digit."
    answer, heard, status = client.predict(clip, instruction, "cascade", api_name="/ask")
    assert heard.strip(" .").lower() in {"seven", "7"} and answer and "answered in" in status
    with pytest.raises(Exception, match="once"):
        client.predict(clip, "<speech> <speech>", "cascade", api_name="/ask")


def test_the_api_lists_only_what_a_client_should_call(client):
    api = client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == {"/classify", "/enhance", "/synthesize", "/explore", "/reconstruct", "/ask"}
    assert not api["unnamed_endpoints"]


def test_choices_take_stable_values_and_refuse_others(client):
    from gradio_client import handle_file

    demos = [DEMO / f"commands/{w}/flite_slt.flac" for w in ("one", "two")]
    rows = table([[p.name, w] for p, w in zip(demos, ("one", "two"), strict=True)], ["clip", "label"])
    args = [[handle_file(str(p)) for p in demos], rows, handle_file(str(DEMO / "commands/two/flite_rms.flac"))]
    label, *_ = client.predict(*args, "0,1", 0, "channel", api_name="/classify")
    assert label["label"] in ("one", "two")
    with pytest.raises(Exception, match="not in the list of choices"):  # Gradio checks the value first
        client.predict(*args, "0,1", 0, "chanel", api_name="/classify")


def test_the_readmes_api_example_runs_as_written(server_url, monkeypatch):
    """The README's gradio_client block, run against the real app (only its address changed)."""
    text = (ROOT / "README.md").read_text()
    start = text.index("```python\nfrom gradio_client import Client")
    block = text[start + len("```python\n") : text.index("```", start + 10)]
    monkeypatch.chdir(ROOT)  # the example's clip paths are relative to the repository
    exec(compile(block.replace("http://127.0.0.1:7860/", server_url), "README.md", "exec"), {})
