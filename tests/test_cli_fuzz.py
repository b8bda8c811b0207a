"""CLI fuzzing: random bad overrides (unknown keys, wrong types, out-of-range values, unknown
group members) fed to every task, in process, as `wsattack TASK ...` would get them. Each must
end in one line on stderr and exit code 2, never a traceback, and leave an earlier result in
the run directory untouched."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_profile import property_settings
from omegaconf import DictConfig, ListConfig, OmegaConf

from wsattack.config_check import (
    COUNTS,
    NON_NEGATIVE_NUMBERS,
    NULL_ALLOWED,
    NULL_DEFAULT_KINDS,
    POSITIVE_NUMBERS,
)
from wsattack.run import cli, compose_config
from wsattack.tasks import TASKS
from wsattack.tasks.attack_task import EXAMPLE_COLUMNS

FUZZ = property_settings(12)
TINY = ["dataset=synthetic", "dataset.height=8", "dataset.width=8", "device=cpu"]
# Valid, small runs of each task: a bad override that slipped through would still end quickly.
BASE = {
    "eval": [*TINY, "dataset.test_size=4", "model.checkpoint=none"],
    "attack": [
        *TINY,
        "dataset.test_size=2",
        "model=mnist_cnn",
        "model.checkpoint=none",
        "attack=wasserstein",
        "attack.params.max_iter=2",
    ],
    "certify": [
        *TINY,
        "dataset.test_size=2",
        "model.checkpoint=none",
        "smoothing.n0=2",
        "smoothing.n=4",
        "smoothing.n_predict=4",
    ],
    "train": [
        *TINY,
        "dataset.train_size=8",
        "dataset.test_size=4",
        "train.epochs=1",
        "train.batch_size=4",
        "train.robust_eval.every=0",
    ],
    "report": [],
    "merge": [],
}
GROUPS = ("dataset", "model", "attack", "schedule", "smoothing", "adv", "noise", "experiment")
WRONG_TYPE = {
    "number": ["abc", "[1,2]", "true", "{a:1}"],
    "bool": ["3", "abc", "[true]"],
    "list": ["3", "abc", "{a:1}"],
    "str": ["[a,b]", "{a:1}", "3"],
    "dict": ["3", "abc", "[1]"],
}


def _leaves(cfg, prefix: str = ""):
    """(key, default) of every value in the config, Hydra's own node aside."""
    for key, value in cfg.items_ex(resolve=False) if isinstance(cfg, DictConfig) else []:
        path = f"{prefix}{key}"
        if path in ("hydra", "task_name"):
            continue
        node = cfg._get_node(key)
        if isinstance(value, DictConfig):
            yield path, value
            yield from _leaves(value, f"{path}.")
        elif not OmegaConf.is_interpolation(cfg, key) and node is not None:
            yield path, value


def _kind(value) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, ListConfig):
        return "list"
    if isinstance(value, DictConfig):
        return "dict"
    return None


def _bad_overrides(task: str) -> st.SearchStrategy[str]:
    leaves = list(_leaves(compose_config(task, BASE[task])))
    typed = [(k, _kind(v)) for k, v in leaves if _kind(v) is not None]
    wrong_type = st.sampled_from(typed).flatmap(
        lambda kv: st.sampled_from(WRONG_TYPE[kv[1]]).map(lambda bad: f"{kv[0]}={bad}")
    )
    counts = [k for k, _ in leaves if k.rsplit(".", 1)[-1] in COUNTS] + sorted(NULL_DEFAULT_KINDS)
    counts = [k for k in counts if NULL_DEFAULT_KINDS.get(k, "count") == "count"]
    leaf = {k: k.rsplit(".", 1)[-1] for k, _ in leaves}
    positive = [k for k in leaf if leaf[k] in POSITIVE_NUMBERS]
    non_negative = [k for k in leaf if leaf[k] in NON_NEGATIVE_NUMBERS]
    out_of_range = st.one_of(
        st.tuples(st.sampled_from(counts), st.sampled_from(["0", "-1", "2.5"])),
        st.tuples(st.sampled_from(positive), st.sampled_from(["0", "-0.5", "nan"])),
        st.tuples(st.sampled_from(non_negative), st.sampled_from(["-1", "-1e-9", "nan"])),
    ).map("=".join)
    nulls = [k for k, v in leaves if v is not None and k not in NULL_ALLOWED]
    null = st.sampled_from(nulls).map(lambda k: f"{k}=null")
    name = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=10).map(lambda s: f"zz{s}")
    unknown_key = st.tuples(st.sampled_from(["", *[f"{g}." for g in GROUPS[:4]]]), name).map(
        lambda t: f"{t[0]}{t[1]}=1"
    )
    unknown_member = st.tuples(st.sampled_from(GROUPS), name).map("=".join)
    return st.one_of(wrong_type, out_of_range, null, unknown_key, unknown_member)


@pytest.fixture
def previous_run(tmp_path):
    """A run directory holding an earlier result, which no refused run may change."""
    run = tmp_path / "run"
    run.mkdir()
    row = dict.fromkeys(EXAMPLE_COLUMNS, 0)
    row.update(idx=0, eps_found=0.5, eps_failed=0.4, found_by="wasserstein", target=-1)
    pd.DataFrame([row]).to_csv(run / "examples.csv", index=False)
    (run / "config.yaml").write_text("earlier: run\n")
    return run


@pytest.mark.parametrize("task", TASKS.names())
def test_bad_override_is_one_line_and_exit_2(task, previous_run, capsys):
    before = {p.name: p.read_bytes() for p in previous_run.iterdir()}
    base = BASE[task] if task not in ("report", "merge") else [f"runs=[{previous_run}]"]

    @FUZZ
    @given(_bad_overrides(task))
    def check(bad):
        with pytest.raises(SystemExit) as exit_:
            cli([task, *base, bad, f"hydra.run.dir={previous_run}"])
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert exit_.value.code == 2, (bad, err)
        assert len(lines) == 1 and lines[0].startswith("wsattack: error: "), (bad, err)
        assert {name: (previous_run / name).read_bytes() for name in before} == before, bad

    check()
