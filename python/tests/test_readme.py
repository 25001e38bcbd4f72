"""The README's Python examples run verbatim: every ```python block of
python/README.md (and of the root README.md's copy of them, once merged
there) in a fresh interpreter, in a temporary directory."""
import os
import re
import subprocess
import sys

import pytest

from conftest import needs_torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def blocks(path, needle="hardreid"):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if needle in b]


CASES = [(f"python/README.md#{i}", b) for i, b in enumerate(blocks(os.path.join(ROOT, "python", "README.md")))]
CASES += [(f"README.md#{i}", b) for i, b in enumerate(blocks(os.path.join(ROOT, "README.md"), "hardreid.torch"))]


def test_readme_has_examples():
    assert len([c for c in CASES if c[0].startswith("python/")]) >= 2


@needs_torch
@pytest.mark.parametrize("where,code", CASES, ids=[c[0] for c in CASES])
def test_readme_block_runs(where, code, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(code)
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{where}:\n{r.stdout}\n{r.stderr}"
