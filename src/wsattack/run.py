"""`wsattack <task> [hydra overrides...]`: the one entry point of every task."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import hydra
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from wsattack.cli_errors import explain
from wsattack.config_check import check_choices, check_run_dir, check_values, group_choices
from wsattack.errors import ConfigError
from wsattack.paths import config_dir
from wsattack.tasks import TASKS

log = logging.getLogger("wsattack")
USAGE_ERROR = 2
MULTIRUN_FLAGS = ("-m", "--multirun")


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


def _validate(task: str, overrides: list[str], multirun: bool = False) -> None:
    """Compose as Hydra will and check every value and the run (or sweep) directory: a bad input
    fails here, before Hydra creates the directory or the task writes anything."""
    try:
        cfg = compose_config(task, overrides)
        base = compose_config(task, group_choices(cfg, overrides))
    # Hydra raises a bare ValueError or TypeError for some group values (null, [1]).
    except (HydraException, ValueError, TypeError) as err:
        _fail(explain(err, _default_config(task), overrides))
    try:
        _resolve(cfg)
        check_choices(cfg)
        check_values(cfg, base, overrides)
        check_run_dir(str(cfg.hydra.sweep.dir if multirun else cfg.hydra.run.dir))
    except ConfigError as err:
        _fail(str(err))
    finally:
        GlobalHydra.instance().clear()


def _sweep_jobs(overrides: list[str]) -> list[list[str]] | None:
    """Override lists that between them hold every value a sweep runs, each once (the other
    keys at their first value), as Hydra's basic sweeper spells them; None for a sweep this
    cannot list (an interval), which is then left to Hydra and the tasks."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException:
        return [overrides]  # _validate explains the syntax error
    if any(o.is_sweep_override() and not o.is_discrete_sweep() for o in parsed):
        return None
    choices = [
        [f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()]
        if o.is_sweep_override()
        else [o.input_line]
        for o in parsed
    ]
    firsts = [values[0] for values in choices]
    jobs = [firsts]
    for i, values in enumerate(choices):
        jobs += [[*firsts[:i], value, *firsts[i + 1 :]] for value in values[1:]]
    return jobs


def _default_config(task: str) -> DictConfig | None:
    """The task's config without overrides (what error messages list valid keys from)."""
    try:
        return compose_config(task, [])
    except HydraException:
        return None


def _resolve(cfg: DictConfig) -> None:
    """Resolve every interpolation now (`key=${nope}` fails here, not halfway through a run)."""
    try:
        # Hydra's own node holds values only known at run time (the job number...).
        OmegaConf.to_container(
            OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True
        )
    except OmegaConfBaseException as err:
        raise ConfigError(f"cannot resolve the config: {explain(err, None, [])}") from err


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")
def _hydra_main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    saved = run_dir / "config.yaml"
    previous = saved.read_bytes() if saved.is_file() else None
    OmegaConf.save(cfg, saved, resolve=True)
    try:
        TASKS.get(cfg.task_name).run(cfg, run_dir)
    except ConfigError as err:
        # A refused run changes no existing result: the run it would have resumed keeps its config.
        if previous is None:
            saved.unlink(missing_ok=True)
        else:
            saved.write_bytes(previous)
        _remove_if_bookkeeping(run_dir)
        _fail(str(err))


def _remove_if_bookkeeping(run_dir: Path) -> None:
    """Remove a run directory that holds only Hydra's bookkeeping (.hydra/, the log): a run
    refused at its start leaves no empty run behind."""
    if all(p.name == ".hydra" or p.suffix == ".log" for p in run_dir.iterdir()):
        shutil.rmtree(run_dir, ignore_errors=True)


def cli(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        sys.exit(0 if argv else USAGE_ERROR)
    task, overrides = argv[0], argv[1:]
    if task not in TASKS:
        _fail(f"unknown task {task!r}; choose from: {', '.join(TASKS.names())}")
    # Hydra's argument parser refuses overrides on both sides of a flag: -m goes first.
    flags = [arg for arg in overrides if arg in MULTIRUN_FLAGS]
    rest = [arg for arg in overrides if arg not in MULTIRUN_FLAGS]
    if not any(arg.startswith("-") for arg in rest):
        for job in (_sweep_jobs(rest) if flags else [rest]) or []:
            _validate(task, job, multirun=bool(flags))
    sys.argv = [sys.argv[0], *flags, f"task={task}", *rest]
    _hydra_main()


if __name__ == "__main__":
    cli()
