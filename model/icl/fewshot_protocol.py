"""The ``fewshot-v1`` protocol: one JSON request per line in, one JSON answer per line out.

    request: {"protocol": "fewshot-v1", "episode_id": "…", "task": "kws", "labels": ["five", "nine"],
              "support": [{"path": "/abs/a.wav", "label": "five"}, …], "query": {"path": "/abs/q.wav"}}
    answer:  {"label": "five", "scores": {"five": 0.83, "nine": 0.17}}

A bad request gets ``{"error": "…"}`` on its line and the process goes on. Support sets repeat across
episodes in a benchmark, so the last few are kept (their KV cache is the expensive part).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from model.icl.pipeline import ClassifyOptions, ICLPipeline, SupportSet
from model.lru import LRUCache

PROTOCOL = "fewshot-v1"


class FewShotServer:
    def __init__(self, pipeline: ICLPipeline, options: ClassifyOptions = ClassifyOptions(), keep: int = 8):
        self.pipeline, self.options = pipeline, options
        self._support: LRUCache[SupportSet] = LRUCache(keep)

    def answer(self, line: str) -> dict:
        """The answer to one request line (never raises for a bad request: returns ``{"error": …}``)."""
        try:
            request = json.loads(line)
        except json.JSONDecodeError as error:
            return {"error": f"not valid JSON: {error.msg} at column {error.colno}"}
        try:
            labels, support, query = _parse(request)
            result = self.pipeline.classify(query, self._support_set(labels, support), explain=False)
        except (ValueError, KeyError, TypeError) as error:
            answer = {"error": str(error) if not isinstance(error, KeyError) else f"missing field {error}"}
        else:
            answer = {"label": result.label, "scores": {label: round(result.probs[label], 6) for label in labels}}
        if isinstance(request, dict) and "episode_id" in request:
            answer["episode_id"] = request["episode_id"]
        return answer

    def serve(self, lines: Iterable[str]) -> Iterator[str]:
        for line in lines:
            if line.strip():
                yield json.dumps(self.answer(line), ensure_ascii=False)

    def _support_set(self, labels: list[str], support: list[tuple[str, str]]) -> SupportSet:
        # Order the demos by the request's label list, so the prompt names labels in that order.
        ordered = sorted(support, key=lambda item: labels.index(item[1]))
        key = (tuple(labels), tuple(support))
        return self._support.get_or_make(key, lambda: self.pipeline.support_set(ordered, self.options))


def _parse(request) -> tuple[list[str], list[tuple[str, str]], str]:
    if not isinstance(request, dict):
        raise ValueError("a request must be a JSON object")
    if request.get("protocol") != PROTOCOL:
        raise ValueError(f"protocol must be {PROTOCOL!r}, got {request.get('protocol')!r}")
    labels = request["labels"]
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise ValueError("labels must be a list of strings")
    if len(set(labels)) != len(labels):
        raise ValueError("labels must not repeat")
    support = [(item["path"], item["label"]) for item in request["support"]]
    strays = sorted({label for _, label in support} - set(labels))
    if strays:
        raise ValueError(f"support labels {strays} are not in labels")
    missing = [label for label in labels if label not in {lab for _, lab in support}]
    if missing:
        raise ValueError(f"labels {missing} have no support clip")
    return labels, support, request["query"]["path"]
