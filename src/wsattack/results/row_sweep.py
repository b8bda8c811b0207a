"""One Hydra multirun over named rows, each row its own set of overrides (a list of points, not
the cartesian product a plain `-m KEY=A,B` sweeps): what the reproduction scripts run.

Each row becomes a config of a `row` group written beside the sweep (`# @package _global_`, so
its settings land where the same command-line overrides would), and the sweep is
`wsattack TASK -m +row=NAME,...`. Every job runs in SWEEP_DIR/NAME, so a rerun of the same
rows finds, and resumes, the runs of the last one whatever rows it adds or drops.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml
from omegaconf import OmegaConf

from wsattack.paths import config_dir

GROUP = "row"
# Beside the jobs, out of `wsattack report`'s way: it takes only directories holding .hydra/.
CONFIGS = "row_configs"


def add_sweep_arguments(parser: argparse.ArgumentParser, out: str, unit: str) -> None:
    """The options every reproduction script shares: the first N MNIST test images, where the
    data and the zoo are, the sweep directory, its launcher and joblib's parallelism, and more
    Hydra overrides for every job. `unit` says what one job does ("models certified")."""
    parser.add_argument("--n", type=int, default=10_000, help="first N MNIST test images")
    parser.add_argument("--data", default="../shared/data", help="dataset.root holding MNIST")
    parser.add_argument("--zoo-dir", default="../shared/checkpoints", help="local zoo mirror")
    parser.add_argument("--out", type=Path, default=Path(out))
    parser.add_argument(
        "--launcher", default="joblib", help="hydra/launcher of the sweep (joblib, slurm_cpu, ...)"
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help=f"joblib: {unit} at once (one thread each)"
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        help="more Hydra overrides for every job or the launcher (hydra.launcher.partition=...)",
    )


def launcher_overrides(launcher: str, jobs: int) -> list[str]:
    """`hydra/launcher=NAME`; joblib also gets its parallelism (the others schedule their own:
    the SLURM presets carry array_parallelism)."""
    overrides = [f"hydra/launcher={launcher}"]
    return overrides + [f"hydra.launcher.n_jobs={jobs}"] if launcher == "joblib" else overrides


def row_config(overrides: list[str]) -> str:
    """A `row` config applying `overrides` (KEY=VALUE as typed on the command line): a config
    group's choice goes in its defaults list, as Hydra takes group overrides; values below."""
    groups = [o for o in overrides if (config_dir() / o.partition("=")[0]).is_dir()]
    values = OmegaConf.to_container(
        OmegaConf.from_dotlist([o for o in overrides if o not in groups])
    )
    defaults = [{f"override /{key}": value} for key, _, value in (o.partition("=") for o in groups)]
    body = ({"defaults": defaults} if defaults else {}) | values
    return "# @package _global_\n" + yaml.safe_dump(body, sort_keys=False)


def row_sweep(
    task: str,
    sweep_dir: Path,
    rows: dict[str, list[str]],
    launcher: list[str],
    common: list[str],
) -> int:
    """Run every row as one job of one `wsattack TASK -m` sweep (`launcher`: its hydra/launcher
    overrides, `common`: overrides of every job) in a child process, as a user would; its exit
    status. Job NAME runs in sweep_dir/NAME."""
    configs = (sweep_dir / CONFIGS).resolve()
    (configs / GROUP).mkdir(parents=True, exist_ok=True)
    for name, overrides in rows.items():
        (configs / GROUP / f"{name}.yaml").write_text(row_config(overrides))
    command = [
        *(sys.executable, "-m", "wsattack.run", task, "-m"),
        *launcher,
        *common,
        f"hydra.searchpath=[file://{configs}]",
        f"+{GROUP}={','.join(rows)}",
        f"hydra.sweep.dir={sweep_dir}",
        # Named by the row, not numbered: numbers shift when a rerun sweeps other rows.
        f"hydra.sweep.subdir=${{hydra.runtime.choices.{GROUP}}}",
    ]
    return subprocess.run(command).returncode
