#!/usr/bin/env bash
# Issue #6 evidence on a CPU: mnist_cnn trained on Fashion-MNIST with adv=none and adv=wasserstein
# (same data, epochs and optimizer), both attacked with the wong2019_mnist preset, and an adv=ibp
# model evaluated for verified l_inf accuracy at eps 0.1. The training adversary uses the squared
# Euclidean cost (p=2, the authors' code), whose separable kernel is several times faster.
# Usage: scripts/evidence_adv_training.sh OUT_DIR [TRAIN_N] [EPOCHS] [ATTACK_N]
# The closing note's figures: OUT_DIR 6000 2 500 (about 25 minutes of training on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: $0 OUT_DIR [TRAIN_N] [EPOCHS] [ATTACK_N]}
TRAIN_N=${2:-6000}
EPOCHS=${3:-2}
ATTACK_N=${4:-500}
BIN=.venv/bin
COMMON=(dataset=fashion_mnist "dataset.limit=$TRAIN_N" "train.epochs=$EPOCHS" train.batch_size=64
        train.optimizer=adam train.lr=0.002 device=cpu)

$BIN/wsattack train "${COMMON[@]}" adv=none "hydra.run.dir=$OUT/none"
$BIN/wsattack train experiment=wong2019_mnist_adv_training "${COMMON[@]}" adv.p=2 "hydra.run.dir=$OUT/wass"
for m in none wass; do
  $BIN/wsattack attack experiment=wong2019_mnist dataset=fashion_mnist "dataset.limit=$ATTACK_N" \
    "model.checkpoint=$OUT/$m/model.pt" "attack.report_radii=[0.1,0.3,0.5,1.0,2.0]" device=cpu \
    "hydra.run.dir=$OUT/atk_$m"
done
$BIN/wsattack train dataset=fashion_mnist dataset.limit=10000 adv=ibp adv.eps=0.1 adv.warmup_epochs=1 \
  adv.ramp_epochs=4 train.epochs=8 train.batch_size=128 train.optimizer=adam train.lr=0.001 \
  device=cpu train.robust_eval.every=0 "hydra.run.dir=$OUT/ibp"
$BIN/wsattack eval dataset=fashion_mnist model.checkpoint="$OUT/ibp/model.pt" eval.verify_linf_eps=0.1 \
  device=cpu "hydra.run.dir=$OUT/ibp_eval"
