"""The GPU kit: compact storage round trips, the size budget, and a whole kit session on the CPU."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from model.codec import kit, resume
from model.codec.io import load_codec
from model.codec.train import Run, TrainConfig, train
from model.debug import debug_codec, debug_semantic
from tests.test_codec_training import config, tiny_codec  # noqa: F401  (the fixture)

STEP = (kit.MEL_TOP - kit.MEL_FLOOR) / kit._LEVELS


@pytest.mark.parametrize("lengths", [[1], [7, 128, 33], [0, 5], []])
def test_mels_round_trip_within_half_a_step(lengths):
    generator = torch.Generator().manual_seed(len(lengths))
    mels = [torch.rand(80, n, generator=generator) * 13 - 11 for n in lengths]
    back = kit.decode_mels(kit.encode_mels(mels), lengths)
    assert [m.shape for m in back] == [m.shape for m in mels]
    for original, decoded in zip(mels, back, strict=True):
        assert torch.all((original - decoded.float()).abs() <= STEP / 2 + 1e-2)  # + float16's own rounding


def test_mels_outside_the_range_are_clamped_not_wrapped():
    mel = torch.tensor([[-30.0, 10.0]]).repeat(80, 1)
    back = kit.decode_mels(kit.encode_mels([mel]), [2])[0].float()
    assert back[0, 0] == pytest.approx(kit.MEL_FLOOR) and back[0, 1] == pytest.approx(kit.MEL_TOP, abs=1e-2)


def test_a_wrong_index_is_refused():
    blob = kit.encode_mels([torch.zeros(80, 10)])
    with pytest.raises(ValueError, match="10 frames"):
        kit.decode_mels(blob, [4])


def _trained_codec(state: dict):
    codec = debug_codec(seed=0)  # the tiny codec, its LLM rows installed
    codec.load_state_dict(state["model"], strict=False)
    return codec


def _items_and_vectors(run: Run):
    codec = _trained_codec(run.load_state())
    items = []
    with torch.no_grad():
        for it in torch.load(run.folder / "features.pt", weights_only=True):
            codes = codec.level0.encode(it["semantic"].float())
            items.append({"mel": it["mel"], "codes": codes, "speech": it["speech"]})
        return items, [codebook.vectors().clone() for codebook in codec.codebooks()]


@pytest.fixture()
def packed(config, tmp_path):  # noqa: F811
    run = Run(tmp_path / "run")
    train(run, config, 5, make_codec=tiny_codec)
    resume.pack(run.load_state(), tmp_path / "state")
    items, vectors = _items_and_vectors(run)
    return items, vectors, str(tmp_path / "state")


def test_kit_round_trips(packed, tmp_path):
    items, vectors, state = packed
    summary = kit.pack_kit(items, items[:2], vectors, state, tmp_path / "kit", max_bytes=2**22)
    loaded = kit.load_kit(tmp_path / "kit")
    assert summary["train_items"] == len(loaded.items) == len(items)  # all fit: shuffled, none lost
    assert str(loaded.state) == state and len(loaded.dev) == 2
    original = sorted((it["codes"].tolist(), it["speech"]) for it in items)
    assert sorted((it["codes"].tolist(), it["speech"]) for it in loaded.items) == original
    for mine, theirs in zip(vectors, loaded.vectors, strict=True):
        assert torch.equal(mine, theirs)


def test_the_kits_codec_codes_and_decodes_as_the_one_with_llm_rows(packed, tmp_path):
    items, vectors, state = packed
    kit.pack_kit(items, [], vectors, state, tmp_path / "kit", max_bytes=2**22)
    loaded = kit.load_kit(tmp_path / "kit")
    unpacked = resume.unpack(loaded.state)
    with_rows = _trained_codec(unpacked).eval()
    without = kit.kit_codec(with_rows.config).eval()
    without.load_state_dict(kit.with_vectors(unpacked, loaded.vectors)["model"], strict=False)
    assert not any(codebook.has_rows for codebook in without.codebooks())
    mel = items[0]["mel"].float()[None]
    level0 = items[0]["codes"][with_rows.level0_index(mel.shape[-1], len(items[0]["codes"]))][None]
    with torch.no_grad():
        for keep in range(len(with_rows.config.strides) + 1):
            assert torch.allclose(with_rows(mel, level0, keep)[0], without(mel, level0, keep)[0], atol=1e-5)


def test_vectors_that_do_not_fit_the_state_are_refused(packed):
    _items, vectors, state = packed
    with pytest.raises(ValueError, match="pack the kit again"):
        kit.with_vectors(resume.unpack(state), [v[:, :3] for v in vectors])


def test_kit_keeps_to_its_budget(packed, tmp_path):
    items, vectors, state = packed
    full = kit.pack_kit(items, [], vectors, state, tmp_path / "full", max_bytes=2**22)
    budget = full["bytes"] - 1500  # too small for all the clips
    summary = kit.pack_kit(items, [], vectors, state, tmp_path / "kit", max_bytes=budget)
    assert 0 < summary["train_items"] < len(items)
    assert sum(f.stat().st_size for f in (tmp_path / "kit").iterdir()) <= budget
    with pytest.raises(ValueError, match="code vectors and dev clips alone"):
        kit.pack_kit(items, [], vectors, state, tmp_path / "none", max_bytes=1000)


def test_a_kit_session_trains_evaluates_exports_and_packs_on_the_cpu(packed, tmp_path):
    items, vectors, state = packed
    kit.pack_kit(items, items[:2], vectors, state, tmp_path / "kit", max_bytes=2**22)
    result = kit.train_from_kit(tmp_path / "kit", tmp_path / "out", minutes=1, device="cpu", batch=3, steps=8)
    assert result["start_step"] == 5 and result["end_step"] == 8 and result["batch"] == 3
    assert set(result["eval_before"]) == set(result["eval_after"]) == {"level0", "levels01", "all_levels"}
    assert json.loads((tmp_path / "out" / "kit_result.json").read_text())["end_step"] == 8
    back = resume.unpack(tmp_path / "out" / "state")  # what the CPU resumes from
    assert back["step"] == 8 and back["train_config"]["batch"] == 2  # the run's own batch again
    assert all(f.stat().st_size <= kit.RETURN_SHARD_BYTES for f in (tmp_path / "out" / "state").iterdir())
    codec = load_codec(tmp_path / "out" / "checkpoint", semantic=debug_semantic, vocoder=torch.nn.Identity())
    exported = load_file(tmp_path / "out" / "checkpoint" / "model.safetensors")
    for key, value in back["model"].items():
        if key in exported and not key.endswith("frozen"):  # the training state's copy is never written
            assert torch.allclose(codec.state_dict()[key], value, atol=1e-2), key  # fp16 export of the same
    assert all(codebook.frozen.abs().sum() > 0 for codebook in codec.codebooks())  # code vectors written
    back_with_rows = _trained_codec(back)  # the CPU maps its rows again: the maps did not move on the GPU
    for carried, mapped in zip(vectors, back_with_rows.codebooks(), strict=True):
        assert torch.allclose(carried, mapped.vectors().detach(), atol=1e-6)
    resumed = Run(tmp_path / "cpu")
    train_config = TrainConfig.from_dict(back["train_config"])
    assert train(resumed, train_config, 9, resume_from=tmp_path / "out" / "state", make_codec=tiny_codec) == 9


def test_load_kit_explains_a_missing_kit(tmp_path):
    with pytest.raises(ValueError, match=r"python -m model\.codec\.kit pack"):
        kit.load_kit(tmp_path)


def test_the_default_budget_leaves_room_for_the_tracked_tree(tmp_path):
    assert kit.default_budget(tmp_path) == 24 * 2**20  # not a checkout: the measured default
    here = kit.default_budget()
    assert 0 < here < kit.CARRY_BYTES  # the tracked files travel too
