# wsattack: every target works from a fresh clone; `make install` runs first where needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
DATA ?= $(SHARED)/data
ZOO_DIR ?= $(SHARED)/checkpoints
N ?= 10000
# CPU threads for benchmarks: 1, like the CLI's cpu_threads default (see README).
THREADS ?= 1
# The reproductions are Hydra sweeps on this launcher (joblib: here; submitit_slurm, slurm_cpu,
# slurm_gpu: a SLURM cluster), with JOBS jobs at once on joblib (each on one thread): the core count.
LAUNCHER ?= joblib
JOBS ?= 2
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install test lint demo demo-assets bench bench-sinkhorn bench-attack bench-certify bench-strength check-headroom bench-sequential \
	simulate-sequential reproduce-wong2019-mnist reproduce-levine2020-mnist clean

help:  ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-28s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install wsattack with its dev tools

test: $(STAMP)  ## run the test suite (the CI command)
	$(BIN)/pytest -q

lint: $(STAMP)  ## ruff checks
	$(BIN)/ruff check src tests scripts

demo: $(STAMP)  ## attack the packaged demo model on packaged Fashion-MNIST images (offline, under a minute on 2 cores)
	$(BIN)/wsattack attack cpu_threads=2
	@echo "demo results (CSVs, plots): $$(ls -td outputs/attack/*/ | head -1)"

demo-assets: $(STAMP)  ## regenerate the packaged demo sample and model (Debian's dataset-fashion-mnist, else a download into data/)
	$(BIN)/python scripts/make_demo_assets.py --root data --download

reproduce-wong2019-mnist: $(STAMP)  ## Wong 2019 Figure 4 and eps=1 table: the four zoo models on the first N MNIST test images, one sweep (DATA=, ZOO_DIR=, LAUNCHER=, JOBS=)
	$(BIN)/python scripts/reproduce_wong2019_mnist.py --n $(N) --data $(DATA) --zoo-dir $(ZOO_DIR) --launcher $(LAUNCHER) --jobs $(JOBS)

reproduce-levine2020-mnist: $(STAMP)  ## Levine 2020 Table 1: certify with the 14 zoo smoothing models on the first N MNIST test images, one sweep (DATA=, ZOO_DIR=, LAUNCHER=, JOBS=; SEQUENTIAL=1: sequential beside fixed)
	$(BIN)/python scripts/reproduce_levine2020_mnist.py --n $(N) --data $(DATA) --zoo-dir $(ZOO_DIR) --launcher $(LAUNCHER) --jobs $(JOBS) $(if $(SEQUENTIAL),--sequential)

bench: bench-sinkhorn bench-attack bench-certify  ## every speed benchmark (JSON under outputs/bench/)

bench-sinkhorn: $(STAMP)  ## projected Sinkhorn: ms/iteration, iterations, projections/s (outputs/bench/sinkhorn.json)
	$(BIN)/python scripts/bench_sinkhorn.py --threads $(THREADS)

bench-attack: $(STAMP)  ## attack speed against the authors' code (100 MNIST images; outputs/bench/attack.json)
	$(BIN)/python scripts/bench_attack.py --data $(DATA) --zoo-dir $(ZOO_DIR) --threads $(THREADS)

bench-strength: N = 100
bench-strength: $(STAMP)  ## attack strength: acc@radius of each attack on wong2019_mnist_robust (+ MODELS="NAME=CKPT[@DATASET] ..."), N=100 (outputs/bench/strength/)
	$(BIN)/python scripts/bench_attack_strength.py --n $(N) --data $(DATA) --zoo-dir $(ZOO_DIR) $(if $(ATTACKS),--attacks $(ATTACKS)) $(foreach m,$(MODELS),--model $(m))

check-headroom: N = 100
check-headroom: $(STAMP)  ## what 10x costlier attacks break that auto left standing at 0.05/0.1/0.2/0.3 (MODEL=zoo:wong2019_mnist_robust, DATASET=mnist), N=100 (outputs/bench/headroom/)
	$(BIN)/python scripts/check_attack_headroom.py --n $(N) --data $(DATA) --zoo-dir $(ZOO_DIR) --radii 0.05,0.1,0.2,0.3 $(if $(MODEL),--model $(MODEL)) $(if $(DATASET),--dataset $(DATASET))

bench-sequential: N = 500
bench-sequential: $(STAMP)  ## sequential vs fixed certification, sigma=0.01 zoo models, radii 0.005/0.01/0.015, N=500 (outputs/bench/sequential_certify/)
	$(BIN)/python scripts/bench_sequential_certify.py --n $(N) --data $(DATA) --zoo-dir $(ZOO_DIR)

VOTES = outputs/bench/sequential_votes_wasserstein_0.01.json
simulate-sequential: $(STAMP)  ## how futility trades samples for accuracy, replayed on recorded votes of MNIST test images 500-2,499 (recorded once into $(VOTES))
	test -f $(VOTES) || $(BIN)/python scripts/simulate_sequential_certify.py record --offset 500 --n 2000 --data $(DATA) --zoo-dir $(ZOO_DIR) --out $(VOTES)
	$(BIN)/python scripts/simulate_sequential_certify.py simulate $(VOTES) --futility 0.05 0.1 0.2 --csv outputs/bench/sequential_simulation.csv

bench-certify: $(STAMP)  ## certification throughput, 11,000 samples per image (outputs/bench/certify.json)
	$(BIN)/python scripts/bench_certify.py --threads $(THREADS)

clean:  ## remove build artefacts (keeps .venv and outputs)
	rm -rf build dist .pytest_cache .ruff_cache
