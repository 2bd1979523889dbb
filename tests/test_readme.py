"""The README's code blocks run as written.

Every ```python block runs, in order, in one namespace (as a reader pastes them one after the
other into one session), in a temporary folder (the blocks write files). The other blocks are
not Python, and are left to what exercises them:
  - ```bash (the Quickstart: install, run the main job, run the tests): CI runs exactly these
    commands (.ci/run);
  - ```json (the config schema, with // comments and "..." for more layers): documentation, not
    a file; the bundled configs are loaded by test_config.py;
  - untagged blocks (the CLI's commands and an error transcript, `my.json` being the reader's
    file): the CLI's behaviour is tested in test_cli.py.
A block that imports an optional package that is missing (torch, onnx...) is skipped.
"""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.M | re.S)
NOT_RUN = {"bash", "json", ""}       # see the module's docstring


def _blocks():
    text = README.read_text(encoding="utf-8")
    blocks = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        blocks.append((m.group(1), m.group(2), line))
    return blocks


BLOCKS = _blocks()
PYTHON = [(code, line) for lang, code, line in BLOCKS if lang == "python"]


def test_every_block_is_run_or_left_to_what_exercises_it():
    assert len(PYTHON) >= 4
    assert {lang for lang, _, _ in BLOCKS} <= NOT_RUN | {"python"}


@pytest.fixture(scope="module")
def namespace(tmp_path_factory):
    return {"__name__": "__readme__"}


@pytest.mark.parametrize("code, line", PYTHON, ids=[f"line{line}" for _, line in PYTHON])
def test_python_block_runs(code, line, namespace, tmp_path_factory, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    for module in re.findall(r"^\s*(?:import|from) (torch|onnx|onnxruntime|sklearn)\b", code, re.M):
        pytest.importorskip(module)
    monkeypatch.chdir(tmp_path_factory.getbasetemp())
    try:
        exec(compile(code, f"README.md, line {line}", "exec"), namespace)
    finally:
        plt.close("all")
