from __future__ import annotations

import torch

from model.icl.prompts import PromptBuilder, PromptOptions, audio_ids, concat, label_names, order_demos

# A character-level "tokenizer": every character is its own id, so a prompt renders back exactly.
builder = PromptBuilder(lambda text: [ord(c) for c in text])


def render(ids: list[int]) -> str:
    return "".join(map(chr, ids))


def word(text: str) -> list[int]:
    return [ord(c) for c in text]


def test_classification_prompt_renders_as_the_paper_format():
    demos = [([word(" cat cat")], "meow"), ([word(" dog")], "woof")]
    prefix = builder.classify_prefix(demos, ["meow", "woof"], PromptOptions())
    query = builder.query([word(" cat")], (0,))
    assert render(concat(prefix, query).ids) == (
        "Classify each audio clip written in audio tokens. Answer with one of: meow, woof.\n###\n"
        "Input: < cat cat >\nOutput: meow\n###\n"
        "Input: < dog >\nOutput: woof\n###\n"
        "Input: < cat >\nOutput:"
    )
    assert render(builder.answer_ids("meow")) == " meow\n"


def test_segments_mark_every_part():
    demos = [([word(" a"), word("xy")], "one"), ([word(" b"), word("z")], "two")]
    prompt = builder.classify_prefix(demos, ["one", "two"], PromptOptions(levels=(0, 1)))
    assert render(prompt.ids).count("Input: < a |xy >") == 1
    by_role = {}
    for s in prompt.segments:
        by_role.setdefault(s.role, []).append(render(prompt.ids[s.start : s.end]))
    assert by_role["instruction"][0].startswith("Classify")
    assert by_role["demo"] == [" a", "xy", " b", "z"]
    assert by_role["label"] == [" one", " two"]
    assert [s.level for s in prompt.segments if s.role == "demo"] == [0, 1, 0, 1]
    spans = prompt.spans("label")
    assert [render(prompt.ids[slice(*spans[i])]) for i in (0, 1)] == [" one", " two"]
    assert prompt.spans("demo")[0][1] < spans[0][0] < prompt.spans("demo")[1][0]


def test_order_repeats_and_label_formats():
    labels = ["a", "a", "b", "b", "c"]
    assert order_demos(labels, PromptOptions(order="interleaved")) == [0, 2, 4, 1, 3]
    assert order_demos(labels, PromptOptions(order="grouped")) == [0, 1, 2, 3, 4]
    assert order_demos(labels, PromptOptions(order="interleaved"), seed=1) == [2, 4, 0, 3, 1]
    assert label_names(["dog", "cat"], PromptOptions(label_format="letters")) == ["A", "B"]
    demos = [([word(" x")], "p"), ([word(" y")], "q")]
    twice = builder.classify_prefix(demos, ["p", "q"], PromptOptions(repeats=2))
    assert render(twice.ids).count("Input:") == 4


def test_audio_ids_collapse_repeats_only_when_asked():
    levels = [torch.tensor([5, 5, 7, 7, 7, 5]), torch.tensor([1, 1])]
    assert audio_ids(levels, (0,), collapse=True) == [[5, 7, 5]]
    assert audio_ids(levels, (0, 1), collapse=False) == [[5, 5, 7, 7, 7, 5], [1, 1]]


def test_pair_prompt_for_enhancement():
    demo = (builder.input_audio([word(" n")], (0,), 0), [word(" c")])
    prompt = builder.pair_prefix([demo], (0,), "Denoise.")
    assert render(prompt.ids) == "Denoise.\n###\nInput: < n >\nOutput: < c >\n###\n"
    assert render(builder.input_text("three", None).ids) == "Input: three"
