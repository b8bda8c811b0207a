"""The built wheel carries its configs: `wsattack --help` and a composed run work from it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_and_finds_its_configs(tmp_path):
    if (
        shutil.which("uv") is None
        and subprocess.run(
            [sys.executable, "-m", "build", "--version"], capture_output=True
        ).returncode
    ):
        pytest.skip("the `build` package is not installed")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(REPO)],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("wsattack-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # Dependencies come from this interpreter's site-packages (no network, no 5 GB reinstall);
    # the wheel itself is installed for real, so wsattack and its configs come from the wheel.
    site = next((env_dir / "lib").glob("python*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], check=True
    )
    result = subprocess.run(
        [env_dir / "bin" / "wsattack", "--help"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0 and "train" in result.stdout
    where = subprocess.run(
        [python, "-c", "import wsattack.paths as p; print(p.config_dir())"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr
    composed = subprocess.run(
        [
            env_dir / "bin" / "wsattack",
            "eval",
            "dataset=synthetic",
            "dataset.test_size=8",
            "device=cpu",
            "--cfg",
            "job",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert composed.returncode == 0 and "name: synthetic" in composed.stdout, composed.stderr
