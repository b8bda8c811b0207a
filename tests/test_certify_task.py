"""`wsattack certify` end to end on synthetic data: CSV schema, seeds, resume, Table 1 columns,
errors; and (with ../shared) the authors' sigma=0.01 Wasserstein model on real MNIST."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from conftest import run_cli, train_tiny_classifier

from wsattack.results.certified import NOT_AVAILABLE, median_certified_radius, table_row
from wsattack.run import cli
from wsattack.tasks.certify_task import CERTIFY_COLUMNS

SIZE = 16
IMAGES = 12
SYNTH = [
    "dataset=synthetic",
    f"dataset.height={SIZE}",
    f"dataset.width={SIZE}",
    f"dataset.test_size={IMAGES}",
    "device=cpu",
]
# Few samples keep a run at a few seconds; sigma large enough that some images abstain.
FAST = [
    "sigma=0.02",
    "smoothing.n0=20",
    "smoothing.n=100",
    "smoothing.n_predict=100",
    "smoothing.batch_size=50",
    "certify.chunk=4",
]
SUMMARY_COLUMNS = [
    "smoothing",
    "sigma",
    "n",
    "smoothed_accuracy",
    "abstained",
    "median_certified_radius",
    "base_accuracy_under_noise",
    "certified_accuracy",
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny mnist_cnn trained on synthetic blobs: accurate, but not trained under noise."""
    run = tmp_path_factory.mktemp("model")
    train_tiny_classifier(run, size=SIZE)
    return run / "model.pt"


def _certify(run_dir, checkpoint, *extra) -> pd.DataFrame:
    cli(
        [
            "certify",
            *SYNTH,
            "model=mnist_cnn",
            f"model.checkpoint={checkpoint}",
            *FAST,
            f"hydra.run.dir={run_dir}",
            *extra,
        ]
    )
    return pd.read_csv(run_dir / "certify.csv")


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, checkpoint):
    """One uninterrupted run with seed 0, shared by the tests that only read it."""
    run_dir = tmp_path_factory.mktemp("certify_full")
    _certify(run_dir, checkpoint)
    return run_dir


def test_certify_csv_schema_and_consistency(full_run):
    frame = pd.read_csv(full_run / "certify.csv")
    assert list(frame.columns) == CERTIFY_COLUMNS and frame["idx"].tolist() == list(range(IMAGES))
    assert not frame.isna().any().any()
    abstain = frame["abstain"] == 1
    assert ((frame["radius"] == 0) == abstain).all()  # radius 0 iff certify abstains
    assert (abstain == (frame["predict"] == -1)).all() and (frame.loc[~abstain, "radius"] > 0).all()
    assert (frame["correct"] == (frame["predict"] == frame["label"]).astype(int)).all()
    assert (frame["vote_correct"] == (frame["vote"] == frame["label"]).astype(int)).all()
    voted = frame[frame["vote"] != -1]
    assert (voted["vote"] == voted["top"]).all() and frame["top"].between(0, 9).all()
    assert frame["p_lower"].between(0, 1).all() and frame["noise_accuracy"].between(0, 1).all()
    assert (frame.loc[~abstain, "p_lower"] > 0.5).all() and (frame["time_s"] > 0).all()
    # Both outcomes occur: the model is good enough for certificates, sigma large enough to abstain.
    assert frame["correct"].sum() > 0 and abstain.any()


def test_summary_columns_match_the_rows(full_run):
    frame = pd.read_csv(full_run / "certify.csv")
    summary = pd.read_csv(full_run / "summary.csv", keep_default_na=False)
    assert list(summary.columns) == SUMMARY_COLUMNS and len(summary) == 1
    row = summary.iloc[0]
    assert (row["smoothing"], row["sigma"], row["n"]) == ("wasserstein", 0.02, IMAGES)
    assert row["smoothed_accuracy"] == pytest.approx(frame["vote_correct"].mean(), abs=1e-6)
    assert row["abstained"] == pytest.approx((frame["vote"] == -1).mean(), abs=1e-6)
    base = frame["noise_accuracy"].mean()
    assert row["base_accuracy_under_noise"] == pytest.approx(base, abs=1e-6)
    assert row["certified_accuracy"] == pytest.approx(frame["correct"].mean(), abs=1e-6)
    assert str(row["median_certified_radius"]) == str(median_certified_radius(frame))
    for name in ("certified_accuracy.png", "config.yaml"):
        assert (full_run / name).is_file()


def test_same_seed_same_csv_and_another_seed_another(tmp_path, checkpoint, full_run):
    def rows(frame):
        return frame.drop(columns="time_s")

    full = pd.read_csv(full_run / "certify.csv")
    pd.testing.assert_frame_equal(rows(_certify(tmp_path / "again", checkpoint)), rows(full))
    other = _certify(tmp_path / "seed1", checkpoint, "seed=1")
    assert not rows(other).equals(rows(full))
    assert other["p_lower"].tolist() != full["p_lower"].tolist()


def test_resume_after_interruption_matches_uninterrupted_run(tmp_path, checkpoint, full_run):
    cut = tmp_path / "cut"
    shutil.copytree(full_run, cut)
    # An interruption after the first chunk of 4: only its rows were written.
    full = pd.read_csv(full_run / "certify.csv")
    full.iloc[:4].to_csv(cut / "certify.csv", index=False)
    (cut / "summary.csv").unlink()
    resumed = _certify(cut, checkpoint)
    assert resumed["idx"].tolist() == list(range(IMAGES))  # nothing lost, nothing duplicated
    pd.testing.assert_frame_equal(resumed.drop(columns="time_s"), full.drop(columns="time_s"))
    assert resumed["time_s"].iloc[:4].tolist() == full["time_s"].iloc[:4].tolist()  # not redone
    summaries = [pd.read_csv(d / "summary.csv") for d in (cut, full_run)]
    pd.testing.assert_frame_equal(*summaries)


def test_summary_counts_only_this_runs_images(tmp_path, full_run, checkpoint):
    """A rerun with a smaller dataset.limit summarizes its own images, not the earlier rows."""
    shutil.copytree(full_run, tmp_path / "run")
    _certify(tmp_path / "run", checkpoint, "dataset.limit=5")
    assert int(pd.read_csv(tmp_path / "run" / "summary.csv")["n"].iloc[0]) == 5


def _frame(rows: list[tuple[int, int, int, float]]) -> pd.DataFrame:
    """certify.csv-like rows from (label, top, certified class or -1, radius)."""
    frame = pd.DataFrame(rows, columns=["label", "top", "predict", "radius"])
    frame["correct"] = (frame["predict"] == frame["label"]).astype(int)
    frame["vote"] = frame["top"]
    frame["vote_correct"] = (frame["vote"] == frame["label"]).astype(int)
    frame["noise_accuracy"] = 0.5
    return frame


def test_median_is_the_largest_radius_half_the_images_reach():
    # Four images, two needed: radii of the correct certificates 0.3, 0.1, 0.2 -> 0.2.
    frame = _frame([(1, 1, 1, 0.3), (2, 2, 2, 0.1), (3, 3, 3, 0.2), (4, 5, 5, 0.9)])
    assert median_certified_radius(frame) == pytest.approx(0.2)
    # Five images, three needed (ceil): 0.3, 0.2, 0.1 -> 0.1.
    frame = _frame([(1, 1, 1, 0.3), (2, 2, 2, 0.1), (3, 3, 3, 0.2), (4, 5, 5, 0.9), (6, 7, 7, 0.5)])
    assert median_certified_radius(frame) == pytest.approx(0.1)


def test_median_is_zero_when_most_are_classified_but_few_certified():
    # All three classified correctly (top == label), one certified: the median radius is 0.
    frame = _frame([(1, 1, 1, 0.3), (2, 2, -1, 0.0), (3, 3, -1, 0.0)])
    assert median_certified_radius(frame) == 0.0
    # The vote abstains on two, but their plurality class is right: still 0, as the paper's
    # Wasserstein sigma=0.1 row (49.41% accuracy, 1.29% abstained, median 0).
    frame.loc[1:, "vote"] = -1
    assert median_certified_radius(frame) == 0.0


def test_median_is_not_available_when_fewer_than_half_are_classified():
    frame = _frame([(1, 1, 1, 0.3), (2, 4, -1, 0.0), (3, 5, -1, 0.0)])
    assert median_certified_radius(frame) == NOT_AVAILABLE
    # A certificate for the wrong class never counts, however large.
    frame = _frame([(1, 1, 1, 0.3), (2, 4, 4, 0.8), (3, 5, 5, 0.8), (6, 6, 6, 0.1)])
    assert median_certified_radius(frame) == pytest.approx(0.1)
    assert median_certified_radius(frame.iloc[:0]) == NOT_AVAILABLE
    assert table_row(frame.iloc[1:3])["median_certified_radius"] == NOT_AVAILABLE


def test_levine2020_presets_hold_the_tables_settings(compose):
    cfg = compose("certify", ["experiment=levine2020_mnist", "sigma=0.02"])
    groups = (cfg.dataset.name, cfg.model.name, cfg.smoothing.name)
    assert groups == ("mnist", "mnist_cnn", "wasserstein")
    assert cfg.model.checkpoint == "zoo:levine2020_mnist_wasserstein_sigma_0.02"
    assert (cfg.smoothing.sigma, cfg.smoothing.n0, cfg.smoothing.n) == (0.02, 1000, 10000)
    assert (cfg.smoothing.n_predict, cfg.smoothing.alpha) == (10000, 0.05)
    assert list(cfg.levine2020.noises) == ["wasserstein", "laplace"]
    assert list(cfg.levine2020.sigmas) == [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
    cifar = compose("certify", ["experiment=levine2020_cifar10"])
    assert (cifar.dataset.name, cifar.model.name, cifar.sigma) == ("cifar10", "resnet18", 0.0002)
    assert list(cifar.levine2020.sigmas) == [0.00005, 0.0001, 0.0002, 0.0005, 0.001]


def test_command_line_overrides_win_over_the_levine2020_preset(compose):
    overrides = ["experiment=levine2020_mnist", "sigma=0.5", "smoothing=laplace", "smoothing.n=500"]
    cfg = compose("certify", [*overrides, "dataset=synthetic", "dataset.limit=3"])
    assert cfg.model.checkpoint == "zoo:levine2020_mnist_laplace_sigma_0.5"
    assert (cfg.smoothing.name, cfg.smoothing.sigma, cfg.smoothing.n) == ("laplace", 0.5, 500)
    assert (cfg.dataset.name, cfg.dataset.limit) == ("synthetic", 3)
    cfg = compose("certify", ["experiment=levine2020_mnist", "model.checkpoint=model.pt"])
    assert cfg.model.checkpoint == "model.pt"


SEQUENTIAL = ["smoothing.sequential=true", "smoothing.radii=[0.001,0.01]", "smoothing.n=300"]
SEQUENTIAL += ["smoothing.n_predict=300", "smoothing.checkpoints=[20,50,100]"]


@pytest.fixture(scope="module")
def sequential_run(tmp_path_factory, checkpoint):
    run_dir = tmp_path_factory.mktemp("certify_sequential")
    _certify(run_dir, checkpoint, *SEQUENTIAL)
    return run_dir


def test_sequential_rows_say_how_many_samples_and_which_radii_are_certified(sequential_run):
    frame = pd.read_csv(sequential_run / "certify.csv")
    columns = ["samples", "predict_samples", "certified@0.001", "certified@0.01"]
    assert list(frame.columns) == CERTIFY_COLUMNS + columns and not frame.isna().any().any()
    # At most n0 + n; some images stop early, at a checkpoint (selection 20, 50 or 100 first).
    assert frame["samples"].between(20 + 20, 20 + 300).all() and frame["samples"].nunique() > 1
    assert frame["predict_samples"].isin([20, 50, 100, 300]).all()
    for r in (0.001, 0.01):
        certified = (frame["correct"] == 1) & (frame["radius"] >= r)
        assert (frame[f"certified@{r:g}"] == certified.astype(int)).all()
    summary = pd.read_csv(sequential_run / "summary.csv", keep_default_na=False).iloc[0]
    assert summary["mean_samples"] == pytest.approx(frame["samples"].mean(), abs=0.05)
    assert summary["certified@0.001"] == pytest.approx(frame["certified@0.001"].mean(), abs=1e-6)
    assert summary["mean_predict_samples"] == pytest.approx(frame["predict_samples"].mean(), 1e-3)


def test_sequential_resume_and_rerun_give_the_same_rows(tmp_path, checkpoint, sequential_run):
    full = pd.read_csv(sequential_run / "certify.csv")
    cut = tmp_path / "cut"
    shutil.copytree(sequential_run, cut)
    full.iloc[:4].to_csv(cut / "certify.csv", index=False)
    resumed = _certify(cut, checkpoint, *SEQUENTIAL)
    again = _certify(tmp_path / "again", checkpoint, *SEQUENTIAL)
    for frame in (resumed, again):
        pd.testing.assert_frame_equal(frame.drop(columns="time_s"), full.drop(columns="time_s"))


def test_fixed_certifier_reports_requested_radii_and_keeps_its_columns(tmp_path, checkpoint):
    frame = _certify(tmp_path, checkpoint, "smoothing.radii=[0.001]")
    assert list(frame.columns) == [*CERTIFY_COLUMNS, "certified@0.001"]
    summary = pd.read_csv(tmp_path / "summary.csv", keep_default_na=False)
    assert list(summary.columns) == [*SUMMARY_COLUMNS, "certified@0.001"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sigma=0"], "sigma must be a finite number > 0"),
        (["sigma=-0.1"], "sigma must be a finite number > 0"),
        (["smoothing.n0=200"], "smoothing.n0 must be <= smoothing.n"),
        (["smoothing.alpha=1.5"], "alpha must be in (0, 1)"),
        (["smoothing.alpha=0"], "alpha must be in (0, 1)"),
        (["smoothing=gaussian"], "gaussian"),
        (["smoothing.name=gaussian"], "gaussian"),
        (["smoothing.sequential=true", "smoothing.checkpoints=[50,20]"], "smoothing.checkpoints"),
        (["smoothing.sequential=true", "smoothing.radii=[-1]"], "smoothing.radii"),
        (["smoothing.sequential=true", "smoothing.futility=2"], "smoothing.futility"),
        (["smoothing.sequential=true", "smoothing.first_share=1"], "smoothing.first_share"),
    ],
)
def test_bad_certify_config_is_one_line(args, message, tmp_path, checkpoint):
    result = run_cli(
        "certify",
        *SYNTH,
        f"model.checkpoint={checkpoint}",
        *FAST,
        *args,
        f"hydra.run.dir={tmp_path}",
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wsattack: error:") and message in lines[0]


def test_zoo_wasserstein_model_on_real_mnist(tmp_path, shared):
    """The authors' sigma=0.01 Wasserstein base model smooths to >= 90% on the first 20 test
    images (Table 1: 97.98%)."""
    cli(
        [
            "certify",
            "experiment=levine2020_mnist",
            "sigma=0.01",
            f"dataset.root={shared / 'data'}",
            f"zoo.dir={shared / 'checkpoints'}",
            "dataset.limit=20",
            f"hydra.run.dir={tmp_path}",
        ]
    )
    summary = pd.read_csv(tmp_path / "summary.csv", keep_default_na=False).iloc[0]
    assert summary["n"] == 20 and summary["smoothed_accuracy"] >= 0.9
    assert float(summary["median_certified_radius"]) > 0
