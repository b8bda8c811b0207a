"""`wsattack <task> [hydra overrides...]`: the one entry point of every task."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from wsattack.cli_errors import explain
from wsattack.errors import ConfigError
from wsattack.paths import config_dir
from wsattack.tasks import TASKS

log = logging.getLogger("wsattack")
USAGE_ERROR = 2


def usage() -> str:
    lines = ["usage: wsattack <task> [key=value ...] [--help]", "", "tasks:"]
    lines += [f"  {name:<10} {TASKS.get(name).summary}" for name in TASKS.names()]
    lines += ["", "`wsattack <task> --help` shows the task's configuration and the config groups."]
    return "\n".join(lines)


def compose_config(task: str, overrides: list[str]) -> DictConfig:
    """The resolved-later config of `task` with `overrides`, as the CLI would build it."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[f"task={task}", *overrides], return_hydra_config=True)


def _fail(message: str) -> None:
    print(f"wsattack: error: {message}", file=sys.stderr)
    sys.exit(USAGE_ERROR)


def _validate(task: str, overrides: list[str]) -> None:
    try:
        compose_config(task, overrides)
    except HydraException as err:
        base = None
        try:
            base = compose_config(task, [])
        except HydraException:
            pass
        _fail(explain(err, base, overrides))
    finally:
        GlobalHydra.instance().clear()


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")
def _hydra_main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
    try:
        TASKS.get(cfg.task_name).run(cfg, run_dir)
    except ConfigError as err:
        _fail(str(err))


def cli(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        sys.exit(0 if argv else USAGE_ERROR)
    task, overrides = argv[0], argv[1:]
    if task not in TASKS:
        _fail(f"unknown task {task!r}; choose from: {', '.join(TASKS.names())}")
    if not any(arg.startswith("-") for arg in overrides):
        _validate(task, overrides)
    sys.argv = [sys.argv[0], f"task={task}", *overrides]
    _hydra_main()


if __name__ == "__main__":
    cli()
