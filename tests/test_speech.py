"""Speech in, text out, with tiny random parts: the adapter's shapes, its interleaving with text, a short training
loop that lowers the distillation loss, save → load identity, streaming answers and clear errors."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from model.audio import Audio, save_audio
from model.codec.whisper import WhisperConfig, WhisperEncoder
from model.debug import debug_lm
from model.speech.adapter import AdapterConfig, SpeechAdapter
from model.speech.ask import AskPipeline
from model.speech.features import SpeechFeatures
from model.speech.train import AskTrainConfig, train
from tests.conftest import sine

ROOT = Path(__file__).resolve().parent.parent


class FixedTranscriber:
    """Stands in for Whisper: always hears the same words."""

    def __init__(self, text: str = "two"):
        self.text = text

    def __call__(self, samples):
        return self.text


def tiny_pipeline(adapter: bool = True) -> AskPipeline:
    torch.manual_seed(0)
    lm = debug_lm(0, context_length=512)
    with torch.no_grad():  # sharpen the random LLM: its answers must depend on what it reads to teach anything
        lm.model.model.norm.weight.mul_(40.0)
    encoder = WhisperEncoder(WhisperConfig(width=32, heads=4, layers=2)).eval()
    torch.nn.init.normal_(encoder.positions, std=0.02)
    dim = lm.model.get_input_embeddings().weight.shape[1]
    trained = SpeechAdapter(AdapterConfig(lm="debug", lm_dim=dim, encoder_dim=32, encoder_layers=2, hidden=16))
    return AskPipeline(lm, SpeechFeatures(2, encoder), trained if adapter else None, FixedTranscriber())


def clip(freq: float = 300.0, seconds: float = 1.0) -> Audio:
    return Audio(sine(seconds, 16_000, freq) * 0.3)


@pytest.mark.parametrize("frames", [1, 3, 4, 5, 50, 151])
def test_the_adapter_writes_one_embedding_per_four_frames_at_the_llms_norm(frames):
    adapter = SpeechAdapter(AdapterConfig(lm_dim=24, encoder_dim=8, hidden=16, embedding_norm=2.5))
    out = adapter(torch.randn(frames, 8))
    assert out.shape == (-(-frames // 4), 24)
    assert torch.allclose(out.norm(dim=-1), torch.full((out.shape[0],), 2.5), atol=1e-4)
    assert adapter(torch.randn(3, frames, 8)).shape == (3, -(-frames // 4), 24)  # batched too


@pytest.mark.parametrize("context", [0, 1, 2])
def test_the_adapters_context_blocks_widen_what_each_output_sees_and_keep_its_shape(context):
    torch.manual_seed(0)
    config = AdapterConfig(lm_dim=24, encoder_dim=8, hidden=16, context=context, context_kernel=3, context_width=8)
    adapter = SpeechAdapter(config).eval()
    frames = torch.randn(40, 8)  # 10 outputs
    changed = frames.clone()
    changed[20:24] = torch.randn(4, 8)  # the frames of output 5 only
    moved = (adapter(changed) - adapter(frames)).norm(dim=-1) > 1e-6
    reach = context * (3 // 2)  # each block adds one neighbour on each side
    assert moved.nonzero().flatten().tolist() == list(range(5 - reach, 5 + reach + 1))
    assert adapter(torch.randn(3, 151, 8)).shape == (3, 38, 24)


def test_an_even_context_kernel_is_refused():
    with pytest.raises(ValueError, match="odd"):
        AdapterConfig(context=1, context_kernel=4)


def test_speech_sits_between_the_instructions_text():
    pipeline = tiny_pipeline()
    framed = pipeline.frame("Input: <speech> Output:")
    speech = torch.randn(7, pipeline.adapter.config.lm_dim)
    inputs = pipeline.speech_inputs(framed, speech)[0]
    n = len(framed.before)
    assert inputs.shape[0] == n + 7 + len(framed.after)
    assert torch.equal(inputs[n : n + 7], speech)
    assert torch.equal(inputs[:n], pipeline.embed_ids(framed.before))
    assert torch.equal(inputs[n + 7 :], pipeline.embed_ids(framed.after))
    assert pipeline.text_ids(framed, "two") == framed.before + pipeline.lm.encode_text("two") + framed.after


def test_an_instruction_without_the_marker_gets_the_clip_first():
    pipeline = tiny_pipeline()
    assert pipeline.frame("Output:").before == pipeline.frame("<speech>\nOutput:").before


@pytest.mark.parametrize(("instruction", "message"), [("", "Write an instruction"), ("<speech> and <speech>", "once")])
def test_bad_instructions_are_refused(instruction, message):
    with pytest.raises(ValueError, match=message):
        tiny_pipeline().frame(instruction)


def test_answers_stream_on_both_paths():
    pipeline = tiny_pipeline()
    for path in ("direct", "cascade"):
        steps = list(pipeline.stream(clip(), "Input: <speech> Output:", path, max_new_tokens=5))
        assert 1 <= len(steps) <= 5
        assert steps[-1][1] == ("two" if path == "cascade" else "")
        result = pipeline.answer(clip(), "Input: <speech> Output:", path, max_new_tokens=5)
        assert result.text == steps[-1][0].strip() and result.path == path


def test_the_direct_path_without_an_adapter_points_to_the_cascade():
    with pytest.raises(ValueError, match="use the cascade path"):
        tiny_pipeline(adapter=False).answer(clip(), "Input: <speech>", "direct")


def test_bad_audio_and_paths_are_refused():
    pipeline = tiny_pipeline()
    with pytest.raises(ValueError, match="silent"):
        pipeline.answer(Audio(np.zeros(16_000, np.float32)), "<speech>")
    with pytest.raises(ValueError, match="over the 90 s limit"):
        pipeline.answer(clip(seconds=91.0), "<speech>")
    with pytest.raises(ValueError, match="Unknown path"):
        pipeline.answer(clip(), "<speech>", "telepathy")


def test_an_int8_save_is_half_the_size_close_and_loads_again_unchanged(tmp_path):
    torch.manual_seed(0)
    adapter = SpeechAdapter(AdapterConfig(lm_dim=64, encoder_dim=32, hidden=128, context=1, context_width=64)).eval()
    small = adapter.save(tmp_path / "int8", int8=True) / "adapter.safetensors"
    full = adapter.save(tmp_path / "fp16") / "adapter.safetensors"
    assert small.stat().st_size < 0.6 * full.stat().st_size
    loaded = SpeechAdapter.load(tmp_path / "int8")
    x = torch.randn(40, 32)
    assert torch.nn.functional.cosine_similarity(loaded(x), adapter(x), dim=-1).min() > 0.999
    assert not torch.equal(loaded(x), adapter(x))  # it is a quantisation
    again = SpeechAdapter.load(loaded.save(tmp_path / "again", int8=True))  # already on the int8 grid
    assert torch.equal(again(x), loaded(x))


def test_an_adapter_for_another_llm_is_refused():
    pipeline = tiny_pipeline()
    wrong = SpeechAdapter(AdapterConfig(lm="other", lm_dim=7, encoder_dim=32))
    with pytest.raises(ValueError, match="Use its own adapter"):
        AskPipeline(pipeline.lm, pipeline.features, wrong)


def test_save_then_load_is_the_identity(tmp_path):
    adapter = tiny_pipeline().adapter
    with torch.no_grad():  # weights are stored in float16: start from weights that float16 holds exactly
        for parameter in adapter.parameters():
            parameter.copy_(parameter.half().float())
    loaded = SpeechAdapter.load(adapter.save(tmp_path / "adapter"))
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert loaded.config == adapter.config
    x = torch.randn(9, 32)
    assert torch.equal(loaded(x), adapter.eval()(x))
    with pytest.raises(ValueError, match="not a speech adapter"):
        SpeechAdapter.load(tmp_path)


@pytest.fixture()
def ask_manifest(tmp_path):
    clips = []
    for i, (freq, text) in enumerate([(220, "yes"), (440, "no"), (660, "one"), (880, "two")]):
        save_audio(clip(freq, 0.6), tmp_path / f"clip{i}.wav")
        clips.append({"path": f"clip{i}.wav", "text": text, "instruction": "Input: <speech> Output:", "split": "train"})
    save_audio(clip(330, 0.6), tmp_path / "read.wav")  # a read-aloud clip: alignment only, no instruction
    clips.append({"path": "read.wav", "text": "three", "instruction": "", "split": "train"})
    (tmp_path / "manifest.json").write_text(json.dumps({"clips": clips}))
    return tmp_path / "manifest.json"


def test_a_short_training_loop_lowers_the_distillation_loss_and_resumes(ask_manifest, tmp_path):
    config = AskTrainConfig(
        manifest=str(ask_manifest), batch=4, lr=3e-3, warmup=2, schedule_steps=40, log_every=1, response_tokens=4
    )
    run = tmp_path / "run"
    assert train(run, config, 40, pipeline=tiny_pipeline(adapter=False)) == 40
    losses = [json.loads(line)["loss"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    assert train(run, config, 45, pipeline=tiny_pipeline(adapter=False)) == 45  # resumes at step 40
    state = torch.load(run / "state.pt", weights_only=True)
    assert state["step"] == 45


def aligned_adapter(table: torch.Tensor, vocabulary: list[int]) -> SpeechAdapter:
    config = AdapterConfig(
        lm_dim=table.shape[1], encoder_dim=8, hidden=16, embedding_norm=2.0, aligned=True,
        vocabulary_size=len(vocabulary),
    )  # fmt: skip
    adapter = SpeechAdapter(config)
    adapter.vocabulary.copy_(torch.tensor(vocabulary))
    return adapter


def test_compression_drops_blanks_and_averages_each_run_of_one_token():
    torch.manual_seed(0)
    table = torch.nn.functional.normalize(torch.randn(10, 16), dim=-1)
    adapter = aligned_adapter(table, [2, 5, 7])
    with torch.no_grad():
        adapter.blank.copy_(torch.nn.functional.normalize(torch.randn(16), dim=0))
    blank, a, b = adapter.blank.detach(), table[5], table[7]
    noisy = [blank, a, a * 1.1 + 0.01 * blank, blank, b, a, a]  # blank, run of 5, blank, 7, run of 5
    speech = torch.stack(noisy)
    assert adapter.token_logits(speech, table).argmax(-1).tolist() == [0, 2, 2, 0, 3, 2, 2]
    assert adapter.heard(speech, table) == [5, 7, 5]  # as LLM token ids
    out = adapter.compress(speech, table)
    assert out.shape == (3, 16)
    expected = torch.stack([(noisy[1] + noisy[2]) / 2, b, a])
    expected = expected / expected.norm(dim=-1, keepdim=True) * 2.0  # at the LLM's embedding norm
    assert torch.allclose(out, expected, atol=1e-5)
    assert adapter.compress(torch.stack([blank, blank]), table).shape == (0, 16)  # all blank: nothing to read
    plain = SpeechAdapter(AdapterConfig(lm_dim=16, encoder_dim=8, hidden=16))
    assert torch.equal(plain.compress(speech, table), speech)  # only aligned adapters compress


def reading_adapter(reads: str, logit_scale: float):
    """An aligned adapter over tokens 2, 5, 7 of a random table, reading ``reads``, and a clip of speech
    embeddings heard as 5, 7, 5 (blank, a run of 5, blank, 7, 5)."""
    torch.manual_seed(0)
    table = torch.nn.functional.normalize(torch.randn(10, 16), dim=-1) * 3.0
    adapter = aligned_adapter(table, [2, 5, 7])
    adapter.config.reads = reads
    with torch.no_grad():
        adapter.blank.copy_(torch.nn.functional.normalize(torch.randn(16), dim=0))
        adapter.logit_scale.fill_(logit_scale)
    blank, a, b = adapter.blank.detach(), table[5], table[7]
    return adapter, table, torch.stack([blank, a, a * 1.1 + 0.01 * blank, blank, b, a])


def test_a_vocabulary_reading_adapter_gives_the_llm_its_own_embeddings_where_the_head_is_sure():
    adapter, table, speech = reading_adapter("vocabulary", math.log(1000.0))  # sure: each frame on one token
    assert torch.allclose(adapter.compress(speech, table), table[[5, 7, 5]], atol=1e-4)
    with torch.no_grad():
        adapter.logit_scale.fill_(0.0)  # an unsure head: a mix of the vocabulary's embeddings, blank left out
    probabilities = adapter.token_logits(speech[4:5], table)[:, 1:].softmax(-1)
    mixed = adapter.compress(speech, table)
    assert torch.allclose(mixed[1], (probabilities @ table[[2, 5, 7]])[0], atol=1e-5)
    assert not torch.allclose(mixed[1], table[7], atol=1e-2)


def test_a_token_reading_adapter_gives_the_llm_exactly_the_tokens_it_heard_and_still_passes_gradients():
    adapter, table, speech = reading_adapter("tokens", 0.0)  # unsure: "vocabulary" would read a blend here
    speech.requires_grad_()
    heard = adapter.heard(speech, table)
    assert heard == [5, 7, 5]
    out = adapter.compress(speech, table)
    assert torch.allclose(out, table[heard], atol=1e-6)  # the transcript's own embeddings, not a blend
    assert adapter.read(speech, table)[1] == heard  # one pass of the head gives both
    out.sum().backward()
    assert speech.grad.abs().sum() > 0 and adapter.logit_scale.grad.abs() > 0  # straight through to the head


def test_an_adapter_that_reads_an_unknown_way_is_refused(tmp_path):
    adapter = SpeechAdapter(AdapterConfig(lm_dim=16, encoder_dim=8, hidden=16, aligned=True, vocabulary_size=2))
    adapter.config.reads = "letters"
    adapter.save(tmp_path)
    with pytest.raises(ValueError, match="unknown reads='letters'"):
        SpeechAdapter.load(tmp_path)


def test_the_sampled_ctc_loss_scores_the_batchs_tokens_and_matches_the_full_one_when_it_draws_all():
    import random

    from model.speech.train import ctc_loss

    torch.manual_seed(0)
    table = torch.randn(60, 16)
    adapter = aligned_adapter(table, list(range(10, 50)))
    speech = [torch.randn(12, 16, requires_grad=True), torch.randn(9, 16, requires_grad=True)]
    ids = [[11, 12, 13], [40, 2, 41]]  # 2 is outside the vocabulary: left out of the target
    full = ctc_loss(adapter, speech, ids, table)
    assert torch.allclose(ctc_loss(adapter, speech, ids, table, negatives=40), full)
    sampled = ctc_loss(adapter, speech, ids, table, negatives=3, rng=random.Random(0))
    assert torch.isfinite(sampled) and sampled < full  # fewer competitors
    sampled.backward()
    assert speech[0].grad.abs().sum() > 0


def test_the_match_loss_pulls_only_the_frames_read_as_their_transcripts_tokens():
    from model.speech.train import match_loss

    torch.manual_seed(0)
    table = torch.nn.functional.normalize(torch.randn(20, 16), dim=-1)
    adapter = aligned_adapter(table, list(range(20)))
    with torch.no_grad():
        adapter.blank.copy_(torch.nn.functional.normalize(torch.randn(16), dim=0))
    exact = torch.stack([table[3], adapter.blank.detach(), table[4]])
    assert float(match_loss(adapter, [exact], [[3, 4]], table)) == pytest.approx(0.0, abs=1e-6)
    near = (exact + 0.3 * torch.randn(3, 16)).requires_grad_()
    loss = match_loss(adapter, [near], [[3, 4]], table)
    assert 0 < loss.item() < 1
    loss.backward()
    assert near.grad[1].abs().sum() == 0  # the blank frame is not pulled
    assert float(match_loss(adapter, [exact], [[7]], table)) == 0  # nothing read as a transcript token


def test_the_learning_rate_warms_up_again_for_the_distillation_stage():
    from model.speech.train import learning_rate

    config = AskTrainConfig(lr=1.0, warmup=10, align_steps=100, schedule_steps=300)
    assert learning_rate(config, 0) == pytest.approx(0.1)
    assert learning_rate(config, 99) < 0.2  # the alignment stage has decayed
    assert learning_rate(config, 100) == pytest.approx(0.1)  # and the distillation starts its own warm-up
    assert learning_rate(config, 299) == pytest.approx(0.1, abs=1e-3)


def test_an_aligned_run_lowers_the_ctc_loss_then_distils_and_exports(ask_manifest, tmp_path):
    from model.speech.train import export

    config = AskTrainConfig(
        manifest=str(ask_manifest), batch=2, align_batch=4, lr=1e-2, warmup=2, align_steps=60, schedule_steps=64,
        log_every=1, response_tokens=3,
    )  # fmt: skip
    run = tmp_path / "run"
    pipeline = tiny_pipeline(adapter=False)
    assert train(run, config, 64, pipeline=pipeline) == 64
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    ctc = [r["ctc"] for r in log if "ctc" in r]
    assert len(ctc) == 60 and np.mean(ctc[-5:]) < 0.7 * np.mean(ctc[:5])
    assert all("kl" in r for r in log[60:])  # then the distillation, through the compressed outputs
    adapter = SpeechAdapter.load(export(run, tmp_path / "adapter"))
    assert adapter.config.aligned and adapter.config.vocabulary_size == len(adapter.vocabulary) > 0
    texts = {c["text"] for c in json.loads(ask_manifest.read_text())["clips"]}
    expected = {t for text in texts for t in pipeline.lm.encode_text(text)}
    assert set(adapter.vocabulary.tolist()) == expected  # read-aloud clips' words included
    # a resumed run can change its plan: a longer alignment stage, the learning rate following the new plan
    assert train(run, config, 66, pipeline=pipeline, extend={"align_steps": 70, "schedule_steps": 80}) == 66
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert "ctc" in log[-1] and log[-1]["step"] == 66
    assert torch.load(run / "state.pt", weights_only=True)["config"]["align_steps"] == 70
    again = tmp_path / "again"  # a second run (another LLM, say) reuses the first one's Whisper frames
    second = AskTrainConfig(**{**config.__dict__, "frames_from": str(run)})
    other = tiny_pipeline(adapter=False)
    with torch.no_grad():
        other.features.encoder.positions.add_(1.0)  # it would compute other frames: equal ones were reused
    train(again, second, 1, pipeline=other)
    first, reused = (torch.load(r / "align.pt", weights_only=True)["items"] for r in (run, again))
    assert len(first) == len(reused) == 5
    assert all(torch.equal(a["frames"], b["frames"]) for a, b in zip(first, reused, strict=True))
    assert not (again / "data.pt").exists()  # an alignment-only run never asks the teacher
    started = tmp_path / "started"  # a new run (more data, say) starts from the first one's adapter
    train(started, AskTrainConfig(**{**second.__dict__, "init_from": str(run)}), 0, pipeline=pipeline)
    weights = [torch.load(r / "state.pt", weights_only=True)["adapter"] for r in (run, started)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    with pytest.raises(ValueError, match="another design"):
        train(tmp_path / "wider", AskTrainConfig(**{**second.__dict__, "init_from": str(run), "context": 1}), 0,
              pipeline=pipeline)  # fmt: skip
    asked = AskPipeline(pipeline.lm, pipeline.features, adapter, FixedTranscriber())
    result = asked.answer(clip(440, 0.6), "Input: <speech> Output:", max_new_tokens=3)
    table = pipeline.lm.model.get_input_embeddings().weight
    heard = adapter.heard(asked.speech_embeddings(clip(440, 0.6).samples), table)
    assert heard and result.transcript == pipeline.lm.tokenizer.decode(heard).strip()  # shows what it heard
    assert result.prompt_positions <= len(asked.frame("Input: <speech> Output:").before) + 3 + 10


@pytest.mark.parametrize(
    ("answer", "accepted", "right"),
    [
        ("The capital of Germany is Berlin.", ["Berlin"], True),
        ("berlin", ["Berlin"], True),
        ("The answer to this question is Italy", ["Rome"], False),
        ("Two plus three is 5.", ["five", "5"], True),
        ("Berliner Weisse", ["Berlin"], False),  # a word, not a substring
    ],
)
def test_the_benchmark_accepts_an_answer_said_in_a_sentence(answer, accepted, right):
    from bench.ask import is_correct

    assert is_correct(answer, accepted) is right


def test_the_benchmark_summarises_only_the_paths_it_asked():
    from bench.ask import summarise_questions

    right, wrong = {"correct": True, "seconds": 1.0}, {"correct": False, "seconds": 3.0}
    both = summarise_questions([{"direct": right, "cascade": wrong}, {"direct": wrong, "cascade": wrong}], 4)["summary"]
    assert both["direct_accuracy_relative_to_text"] == 0.5 and both["cascade_accuracy_relative_to_text"] == 0.0
    assert both["text_accuracy"] == 0.5 and both["direct_seconds"] == 2.0
    direct = summarise_questions([{"direct": right}, {"direct": right}], 2)["summary"]
    assert direct["direct_accuracy_relative_to_text"] == 1.0 and "cascade_accuracy_relative_to_text" not in direct


@pytest.mark.parametrize("folder", sorted((ROOT / "checkpoints").glob("speech-adapter-*")), ids=lambda f: f.name)
def test_each_committed_adapter_is_where_its_llm_looks_and_has_a_model_card(folder):
    from model.lm.store import SPECS

    adapter = SpeechAdapter.load(folder)
    assert folder.name == f"speech-adapter-{adapter.config.lm}" and adapter.config.lm in SPECS
    assert adapter.config.aligned
    assert adapter.spells or len(adapter.vocabulary) == adapter.config.vocabulary_size
    card = (folder / "README.md").read_text()
    assert len(card) > 1000
    assert not re.findall(r"\b[A-Z]+_[A-Z_]+\b", card), "the card still holds placeholders for its numbers"


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("What is the capital of Italy?", "What is the capital of italy?"),
        ("I think -- it's 2 o'clock!", "I think it's two o'clock"),
        ("hello , world .  is it i?", "Hello, world. Is it I?"),
    ],
)
def test_spelling_keeps_what_a_listener_hears_and_writes_it_back_as_a_sentence(text, spoken):
    from model.speech.spelling import ALPHABET, spell, written

    labels = spell(text)
    assert labels and all(1 <= label <= len(ALPHABET) for label in labels)  # 0 is CTC's blank
    assert written(labels) == spoken


def spelling_run(ask_manifest, tmp_path, steps: int = 300):
    config = AskTrainConfig(
        manifest=str(ask_manifest), align_batch=5, lr=2e-2, warmup=2, align_steps=steps, schedule_steps=steps,
        log_every=1, head="characters", stack=2,
    )  # fmt: skip
    pipeline = tiny_pipeline(adapter=False)
    assert train(tmp_path / "run", config, steps, pipeline=pipeline) == steps
    return pipeline, tmp_path / "run"


def test_a_character_head_learns_to_spell_its_clips_and_the_llm_reads_them_as_its_own_tokens(ask_manifest, tmp_path):
    from model.speech.ask import GREEDY, Listening
    from model.speech.spelling import Lexicon
    from model.speech.train import export

    pipeline, run = spelling_run(ask_manifest, tmp_path)
    ctc = [json.loads(line)["ctc"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert np.mean(ctc[-5:]) < 0.5 * np.mean(ctc[:5])
    adapter = SpeechAdapter.load(export(run, tmp_path / "adapter"))
    assert adapter.spells and adapter.config.stack == 2 and adapter.config.vocabulary_size == 0
    table = pipeline.lm.model.get_input_embeddings().weight
    for listening in (GREEDY, Listening(beam=4)):
        asked = AskPipeline(pipeline.lm, pipeline.features, adapter, FixedTranscriber(), listening=listening)
        speech = [asked.speech_embeddings(clip(freq, 0.6).samples) for freq in (220, 440, 660, 880)]
        assert [asked.spelled(s)[0][0] for s in speech] == ["Yes", "No", "One", "Two"]  # the clips, spelled right
        ids = pipeline.lm.encode_text("No")
        read, transcript = asked.listen(clip(440, 0.6).samples)
        assert torch.equal(read, table[ids].float())  # exactly the LLM's embeddings of what it heard
        assert transcript == pipeline.lm.tokenizer.decode(ids).strip()
    framed = asked.frame("Input: <speech> Output:")
    result = asked.answer(clip(440, 0.6), "Input: <speech> Output:", max_new_tokens=3)
    assert result.prompt_positions == len(asked.text_ids(framed, "No"))
    with pytest.raises(ValueError, match="tokenizer"):
        adapter.read(asked.speech_embeddings(clip(440, 0.6).samples), table)
    assert (tmp_path / "adapter" / "words.txt").read_text().split() == ["no", "one", "three", "two", "yes"]
    # with a lexicon the beam writes only its words: a clip of "yes" read by a lexicon without it
    limited = AskPipeline(
        pipeline.lm, pipeline.features, adapter, listening=Listening(beam=4), lexicon=Lexicon(["no", "two"])
    )
    read = [text for text, _ in limited.spelled(limited.speech_embeddings(clip(220, 0.6).samples))]
    assert read and all(set(text.lower().split()) <= {"no", "two"} for text in read)
    assert Lexicon.for_adapter(tmp_path / "adapter").words >= {"yes", "no", "one", "two", "three"}
    from model.speech.ask import SPELLING

    assert AskPipeline(pipeline.lm, pipeline.features, adapter).listening == SPELLING  # its head's own default
    assert AskPipeline(pipeline.lm, pipeline.features, None).listening == Listening()


def test_a_character_head_is_not_distilled(ask_manifest, tmp_path):
    config = AskTrainConfig(manifest=str(ask_manifest), head="characters", align_steps=10, schedule_steps=20)
    with pytest.raises(ValueError, match="alignment stage only"):
        train(tmp_path / "run", config, 20, pipeline=tiny_pipeline(adapter=False))
    with pytest.raises(ValueError, match="unknown head='letters'"):
        AdapterConfig(aligned=True, head="letters")


def test_a_lexicon_grows_words_only_along_known_prefixes(tmp_path):
    from model.speech.spelling import Lexicon, spell

    lexicon = Lexicon(["Opposite", "the", "sound", "it's", "co-op", "42", ""])
    assert lexicon.words == {"opposite", "the", "sound", "it's"}  # lower case; words the head cannot spell dropped
    space = spell("a b")[1]

    def grows(text: str, then_space: bool = False) -> bool:
        return lexicon.allows(tuple(spell(text) + ([space] if then_space else [])))

    assert grows("the opp") and grows("the opposite", then_space=True) and grows("it's")
    assert not grows("thorp") and not grows("soind") and not grows("the oppo", then_space=True)
    assert grows("the?") and not grows("th?")  # punctuation ends a word like a space
    assert grows("the?", then_space=True) and not grows("?") and not grows("the?,")  # no stray punctuation
    assert lexicon.complete(tuple(spell("the sound"))) and not lexicon.complete(tuple(spell("the sou")))
    names = Lexicon(["Sweden", "Paris", "paris", "What", "what", "capital"])
    assert names.capitalised("what is the capital of sweden? paris.") == "what is the capital of Sweden? paris."
    assert names.writings("the capital of sweden or paris") == [
        "the capital of Sweden or paris", "the capital of Sweden or Paris"
    ]  # fmt: skip
    assert names.writings("capital") == ["capital"]
    assert Lexicon.from_files(tmp_path / "missing.txt") is None
    (tmp_path / "words.txt").write_text("colour\nsound\n")
    both = Lexicon.from_files(tmp_path / "missing.txt", tmp_path / "words.txt")
    assert both.words == {"colour", "sound"} and len(both) == 2
