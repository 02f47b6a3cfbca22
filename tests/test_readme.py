"""The README's Python snippets run as written, in order, in one namespace (issue 17, item 6)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_the_snippets_this_test_runs():
    blocks = snippets()
    assert len(blocks) >= 6
    assert any("MultiStageRegressor()" in b for b in blocks) and any("parameters={" in b for b in blocks)


@pytest.mark.slow  # the README's fits as written: a 1-D regression, a forward PINN, the inverse problem (~3 min)
def test_readme_snippets_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # they save model.keras and saved_model_dir
    namespace = {"__name__": "readme"}
    checked = set()
    for number, block in enumerate(snippets(), start=1):
        try:
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
        except Exception as error:  # name the block that broke
            raise AssertionError(f"README python block {number} failed: {type(error).__name__}: {error}\n{block}") from error
        # What the snippets promise, checked right after the block that trains it (later blocks rebind names).
        if "MultiStageRegressor()" in block:
            assert namespace["reg"].evaluate(namespace["x"], namespace["y"])["rms"] < 1e-13  # measured 1.9e-16
            checked.add("regression")
        if "parameters={" in block:
            assert abs(namespace["solver"].parameters["lam"] - 0.5) < 1e-12  # measured 3.4e-15
            checked.add("inverse")
    assert checked == {"regression", "inverse"}
