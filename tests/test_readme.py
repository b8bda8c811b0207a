"""The README's Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_example() -> str:
    section = README.read_text().split("## Python API", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return code


def test_the_python_api_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_python_example(), "README.md (Python API)", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "verified: True" in out and "certified radius" in out
    assert (tmp_path / "accuracy_vs_eps.png").stat().st_size > 0
