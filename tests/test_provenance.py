from __future__ import annotations

import json

from bench.provenance import write_result


def test_every_result_file_says_what_made_it(tmp_path):
    path = write_result(tmp_path / "out" / "r.json", {"accuracy": 0.9}, {"episodes": 200, "recipe": "channel"})
    record = json.loads(path.read_text())
    assert record["results"] == {"accuracy": 0.9}
    assert record["options"] == {"episodes": 200, "recipe": "channel"}
    assert len(record["git_revision"]) >= 7 and isinstance(record["git_dirty"], bool)
    assert record["command"].startswith("python ")
    assert {"cpu", "cpu_bf16", "torch_threads", "cuda"} <= set(record["machine"])
    assert record["date"][:2] == "20"
