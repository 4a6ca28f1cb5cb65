"""Label probabilities and per-demonstration evidence, as values for Gradio widgets."""

from __future__ import annotations

from model.icl.results import ClassifyResult


def label_bars(result: ClassifyResult) -> dict[str, float]:
    """gr.Label value: every label with its calibrated probability."""
    return dict(sorted(result.probs.items(), key=lambda item: -item[1]))


def attention_rows(result: ClassifyResult, demo_names: list[str], demo_labels: list[str]) -> list[list]:
    """Rows [demonstration, its label, its share of the evidence (%)], most relied-on first. The evidence is
    the LLM's attention at the answer (direct scoring) or the channel gain (``result.evidence_kind``)."""
    rows = [
        [name, label, round(100 * share, 1)]
        for name, label, share in zip(demo_names, demo_labels, result.evidence, strict=False)
    ]
    return sorted(rows, key=lambda row: -row[2])
