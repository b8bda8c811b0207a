"""Bad input, as a new user would type it: one line naming the problem and the fix, exit code 2,
no traceback, and no existing result changed; the Python API raises ValueError/TypeError."""

from __future__ import annotations

import os
import re

import pytest
import torch
from conftest import run_cli
from omegaconf import OmegaConf

from wsattack.attacks import WassersteinFW, WassersteinPGD
from wsattack.errors import ConfigError
from wsattack.models import build_model, read_checkpoint, save_checkpoint
from wsattack.run import cli
from wsattack.tasks.attack_task import EXAMPLE_COLUMNS

TINY = ["dataset=synthetic", "dataset.height=8", "dataset.width=8", "dataset.test_size=4"]


class _Evil:
    """Unpickling this runs code: what a weights-only load must refuse."""

    def __reduce__(self):
        return (os.getpid, ())


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A good checkpoint of mnist_cnn on 8x8 images, a truncated copy, and a code pickle."""
    root = tmp_path_factory.mktemp("checkpoints")
    model = build_model(OmegaConf.create({"name": "mnist_cnn", "checkpoint": None}), (1, 8, 8))
    save_checkpoint(root / "good.pt", model, "synthetic")
    data = (root / "good.pt").read_bytes()
    (root / "truncated.pt").write_bytes(data[: len(data) // 2])
    torch.save({"state_dict": _Evil()}, root / "code.pt")
    return root


def _one_line(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("wsattack: error: ") and "fix" in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["eval", *TINY, "model.checkpoint={truncated}"], "cannot be read"),
        (["eval", *TINY, "model.checkpoint={code}"], "is not weights-only"),
        (["eval", "dataset.limit=abc"], "dataset.limit must be a positive integer, got 'abc'"),
        (["eval", *TINY, "hydra.run.dir=/proc/no/such/dir"], "cannot be created or written"),
        (["attack", "model=resnet18"], "model resnet18 has no checkpoint"),
    ],
)
def test_the_issues_commands_are_one_line_and_exit_2(args, expected, files, tmp_path):
    args = [a.format(truncated=files / "truncated.pt", code=files / "code.pt") for a in args]
    if not any(a.startswith("hydra.run.dir") for a in args):
        args.append(f"hydra.run.dir={tmp_path / 'run'}")
    assert expected in _one_line(run_cli(*args))
    assert not (tmp_path / "run").exists()  # none left behind


def _cli_error(capsys, *args: str) -> str:
    """Run the CLI in process; the one line it printed on its way out with exit code 2."""
    with pytest.raises(SystemExit) as exit_:
        cli(list(args))
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_.value.code == 2 and len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("task", ["attack", "certify", "eval"])
def test_random_weights_are_refused_unless_asked_for(task, tmp_path, capsys):
    line = _cli_error(capsys, task, *TINY, "model=mnist_cnn", f"hydra.run.dir={tmp_path}")
    assert "model.checkpoint=none" in line and "random" in line


def test_random_weights_on_purpose(tmp_path):
    cli(["eval", *TINY, "model.checkpoint=none", f"hydra.run.dir={tmp_path}"])
    assert (tmp_path / "metrics.csv").is_file()


def test_a_refused_rerun_changes_no_existing_result(files, tmp_path, capsys):
    run = [*TINY, "model=mnist_cnn", f"hydra.run.dir={tmp_path}"]
    cli(["eval", *run, f"model.checkpoint={files / 'good.pt'}"])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.suffix in (".csv", ".yaml")}
    line = _cli_error(capsys, "eval", *run, f"model.checkpoint={files / 'truncated.pt'}")
    assert "truncated" in line
    assert {name: (tmp_path / name).read_bytes() for name in before} == before


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("attack.batch_size=2.5", "attack.batch_size must be a positive integer"),
        ("attack.verify=3", "attack.verify must be true or false"),
        ("attack.report_radii=[a]", "must be a list of numbers"),
        ("attack.report_radii=[0.1,-0.1]", "must hold finite radii >= 0; -0.1 is not one"),
        ("attack.report_radii=[nan]", "must hold finite radii >= 0; nan is not one"),
        ("attack.report_radii=[0.3,inf]", "must hold finite radii >= 0; inf is not one"),
        ("attack.report_radii=[0.3,0.1]", "fix: attack.report_radii=[0.1,0.3]"),
        ("smoothing.radii=[0.1,-1]", "smoothing.radii must hold finite radii >= 0"),
        ("attack.params=3", "attack.params is a group of options"),
        ("dataset.root=3", "fix: dataset.root='3'"),
        ("dataset.root=null", "dataset.root cannot be null"),
        ("sigma=${nope}", "cannot resolve the config"),
        ("model=null", "model=null names no model; choose from: demo"),
        ("dataset=[1]", "names no dataset"),
        ("seed=-1", "seed must be an integer >= 0"),
        ("smoothing=_sampling", "fix: smoothing=NAME with NAME one of: laplace, wasserstein"),
    ],
)
def test_bad_values_are_refused_before_the_run(override, expected, tmp_path, capsys):
    line = _cli_error(capsys, "eval", override, f"hydra.run.dir={tmp_path / 'run'}")
    assert expected in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["truncated.pt", "code.pt"])
def test_python_api_raises_a_value_error(files, name):
    with pytest.raises(ValueError) as err:
        read_checkpoint(files / name)
    assert isinstance(err.value, ConfigError) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"a,b\n1,2\n", "lacks the columns ['clean_correct', 'success', 'eps_found']"),
        (b"\x00\x01garbage\xff\n", "is not a readable CSV"),
        (b"", "is not a readable CSV"),
        (
            (",".join(EXAMPLE_COLUMNS) + "\n0,1,1,2,1,1,abc,0,x,1,0,1,0,0,0,0,-1\n").encode(),
            "has non-numbers in columns ['eps_found']",
        ),
    ],
)
def test_report_of_a_bad_examples_csv(content, expected, tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "examples.csv").write_bytes(content)
    line = _cli_error(capsys, "report", f"runs=[{tmp_path / 'run'}]", f"hydra.run.dir={tmp_path}")
    assert expected in line


def test_rerun_with_other_report_radii_rewrites_the_summary(tmp_path):
    run = [*TINY, "model=mnist_cnn", "model.checkpoint=none", "dataset.test_size=2"]
    run += ["attack=wasserstein", "attack.params.max_iter=2", f"hydra.run.dir={tmp_path}"]
    cli(["attack", *run, "attack.report_radii=[0.1]"])
    cli(["attack", *run, "attack.report_radii=[0.1,0.2]"])
    assert "acc@0.2" in (tmp_path / "summary.csv").read_text()


def test_a_results_file_of_another_kind_is_refused(tmp_path, capsys):
    (tmp_path / "examples.csv").write_text("epoch,train_loss\n1,0.5\n")
    run = [*TINY, "model=mnist_cnn", "model.checkpoint=none", f"hydra.run.dir={tmp_path}"]
    assert "fix: hydra.run.dir=A_NEW_DIRECTORY" in _cli_error(capsys, "attack", *run)
    assert (tmp_path / "examples.csv").read_text() == "epoch,train_loss\n1,0.5\n"


@pytest.mark.parametrize(
    ("images", "labels", "error", "expected"),
    [
        (lambda x: x.numpy(), lambda y: y, TypeError, "images must be a float torch.Tensor"),
        (lambda x: x[0], lambda y: y, ValueError, "images must have shape (B, C, H, W)"),
        (lambda x: x * float("nan"), lambda y: y, ValueError, "NaN or Inf"),
        (lambda x: x, lambda y: y.float(), TypeError, "labels must be an integer torch.Tensor"),
        (lambda x: x, lambda y: y[:1], ValueError, "labels must have shape (2,)"),
        (lambda x: x, lambda y: -y, ValueError, "labels must be classes >= 0"),
        (lambda x: x, lambda y: y * 5, ValueError, "labels must be classes < 10"),
    ],
)
@pytest.mark.parametrize("attack", ["wasserstein", "wasserstein_fw"])
def test_attack_api_refuses_bad_tensors(attack, images, labels, error, expected):
    model = build_model(OmegaConf.create({"name": "mnist_cnn", "checkpoint": None}), (1, 8, 8))
    cls = WassersteinPGD if attack == "wasserstein" else WassersteinFW
    x, y = torch.rand(2, 1, 8, 8), torch.tensor([1, 2])
    with pytest.raises(error, match=re.escape(expected)):
        cls(model.eval())(images(x), labels(y))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x13\x37garbage", "(not an IDX file)"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 10, 1, 2]), "its header says (10,) but it holds 2 bytes"),
    ],
)
def test_a_corrupt_dataset_file_is_one_line(content, expected, tmp_path, capsys):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(content)
    args = ["dataset=mnist", f"dataset.root={tmp_path}", "model.checkpoint=none"]
    line = _cli_error(capsys, "eval", *args, f"hydra.run.dir={tmp_path / 'run'}")
    assert expected in line and "fix: delete it and download it again" in line


def test_indices_that_select_nothing(tmp_path, capsys):
    args = [*TINY, "dataset.indices=[]", "model.checkpoint=none", f"hydra.run.dir={tmp_path}"]
    assert "dataset.indices selects no images" in _cli_error(capsys, "eval", *args)


def test_an_augment_setting_that_is_not_a_choice_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    line = _cli_error(
        capsys, "train", *TINY, "model=mnist_cnn", "train.augment=maybe", f"hydra.run.dir={run}"
    )
    assert "train.augment must be auto, true or false, got 'maybe'" in line
    assert not run.exists()
