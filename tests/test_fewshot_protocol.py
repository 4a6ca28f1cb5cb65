from __future__ import annotations

import json

import pytest

from model.audio import Audio, save_audio
from model.debug import debug_pipeline
from model.icl.fewshot_protocol import FewShotServer
from tests.conftest import sine


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {
        name: str(save_audio(Audio(sine(0.7, 16_000, f)), folder / f"{name}.wav"))
        for name, f in (("a1", 300), ("a2", 320), ("b1", 900), ("b2", 950), ("q", 310))
    }


@pytest.fixture(scope="module")
def server():
    return FewShotServer(debug_pipeline())


def request(clips, **changes) -> str:
    body = {
        "protocol": "fewshot-v1",
        "episode_id": "e1",
        "task": "kws",
        "labels": ["five", "nine"],
        "support": [{"path": clips["a1"], "label": "five"}, {"path": clips["b1"], "label": "nine"}],
        "query": {"path": clips["q"]},
    }
    body.update(changes)
    return json.dumps(body)


def test_a_valid_request_gets_a_label_and_scores(server, clips):
    answer = server.answer(request(clips))
    assert answer["label"] in ("five", "nine") and answer["episode_id"] == "e1"
    assert list(answer["scores"]) == ["five", "nine"]
    assert sum(answer["scores"].values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "JSON object"),
        ('{"protocol": "fewshot-v0"}', "protocol must be"),
        (None, "have no support clip"),
        ("missing-query", "missing field 'query'"),
        ("stray", "are not in labels"),
        ("bad-path", "no such file"),
    ],
)
def test_a_bad_line_gets_an_error_and_the_next_line_is_answered(server, clips, line, message):
    if line is None:
        line = request(clips, labels=["five", "nine", "ten"])
    elif line == "missing-query":
        line = json.dumps({k: v for k, v in json.loads(request(clips)).items() if k != "query"})
    elif line == "stray":
        line = request(clips, labels=["five"])
    elif line == "bad-path":
        line = request(clips, query={"path": "/nowhere/q.wav"})
    answers = [json.loads(a) for a in server.serve([line, request(clips)])]
    assert message in answers[0]["error"]
    assert "label" in answers[1]


def test_repeated_support_sets_are_reused(server, clips):
    server.answer(request(clips))
    before = len(server._support)
    server.answer(request(clips, query={"path": clips["a2"]}))
    assert len(server._support) == before


def test_support_sets_are_reused_and_the_oldest_evicted(clips):
    server = FewShotServer(debug_pipeline(), keep=2)
    built = []
    original = server.pipeline.support_set
    server.pipeline.support_set = lambda *args: built.append(1) or original(*args)
    pairs = [("a1", "b1"), ("a2", "b2"), ("a1", "b2")]

    def ask(a: str, b: str) -> None:
        support = [{"path": clips[a], "label": "five"}, {"path": clips[b], "label": "nine"}]
        assert "label" in server.answer(request(clips, support=support))

    for a, b in pairs:
        ask(a, b)
    assert len(built) == 3
    ask(*pairs[2])  # most recent: reused
    ask(*pairs[1])  # still kept
    assert len(built) == 3
    ask(*pairs[0])  # the oldest was evicted: built again
    assert len(built) == 4
