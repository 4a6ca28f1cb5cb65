"""Every bad input of ``tests/bad_inputs.py`` against the real library, the fewshot-v1 CLI and the running server:
the expected error (or result), and a good request right after it still succeeds."""

from __future__ import annotations

import pytest

from tests.bad_inputs import CASES, Library, Server, good_request, matches, outcome, run_cli

pytestmark = pytest.mark.integration
IDS = [case.name for case in CASES]


@pytest.fixture(scope="module")
def library():
    return Library.load("tiny")


@pytest.fixture(scope="module")
def server(server_url):
    return Server(server_url)


@pytest.fixture(scope="module")
def cli_answers(tmp_path_factory):
    return run_cli(CASES, tmp_path_factory.mktemp("cli"))


def check(front_end, case, folder):
    kind, text = outcome(front_end, case.build(folder))
    expected = case.expected(front_end.name)
    assert matches(expected, kind, text), f"{case.name}: expected {expected or 'a result'}, got {kind}: {text}"
    assert outcome(front_end, good_request(folder))[0] == "accepted", "a good request after it failed"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_library(library, case, tmp_path):
    check(library, case, tmp_path)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_server(server, case, tmp_path):
    check(server, case, tmp_path)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cli(cli_answers, case):
    if case.name not in cli_answers:
        pytest.skip("fewshot-v1 is classification only")
    answer, after = cli_answers[case.name]["answer"], cli_answers[case.name]["next"]
    kind, text = ("refused", answer["error"]) if "error" in answer else ("accepted", answer["label"])
    assert matches(case.expected("cli"), kind, text), f"{case.name}: got {kind}: {text}"
    assert "label" in after, f"the good line after it failed: {after}"
