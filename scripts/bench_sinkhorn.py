"""Benchmark of wsattack.ot.project: ms per Sinkhorn iteration, iterations to converge, and
projections per second, for MNIST (1x28x28) and CIFAR-10 (3x32x32) shapes on each device."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from wsattack.ot import project, wasserstein_cost

SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


def real_looking(batch: int, shape, seed: int) -> torch.Tensor:
    """Sparse smooth blobs in [0, 1] (about a fifth of the pixels lit, like MNIST digits)."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(batch, *shape, generator=g)
    smooth = F.avg_pool2d(noise, 5, stride=1, padding=2)
    lo = smooth.flatten(1).quantile(0.8, dim=1).view(-1, 1, 1, 1)
    return ((smooth - lo) / (smooth.amax(dim=(1, 2, 3), keepdim=True) - lo)).clamp(0, 1)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: str, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        out = fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best, out


def bench_case(device, name, k, lam, args) -> dict:
    x = real_looking(args.batch, SHAPES[name], args.seed).to(device)
    g = torch.Generator().manual_seed(args.seed + 1)
    w = x + 0.1 * torch.sign(torch.randn(x.shape, generator=g)).to(device)
    cost = wasserstein_cost(k, p=2)
    n = args.fixed_iters
    fixed, _ = timed(
        lambda: project(x, w, args.eps, cost, lam=lam, max_iter=n, tol_dual=0.0, tol_marginal=0.0),
        device,
        args.repeats,
    )
    conv, res = timed(
        lambda: project(x, w, args.eps, cost, lam=lam, max_iter=args.max_iter), device, args.repeats
    )
    return {
        "device": device,
        "shape": name,
        "k": k,
        "lam": lam,
        "batch": args.batch,
        "ms_per_iter": 1e3 * fixed / n,
        "iters_mean": float(res.iterations.float().mean()),
        "iters_max": int(res.iterations.max()),
        "converged": float(res.converged.float().mean()),
        "proj_per_s": args.batch / conv,
    }


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("outputs/bench/sinkhorn.json"))
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--eps", type=float, default=0.5)
    ap.add_argument("--ks", type=int, nargs="+", default=[5, 7])
    ap.add_argument("--lams", type=float, nargs="+", default=[1000.0, 3000.0])
    ap.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    ap.add_argument("--max-iter", type=int, default=200)
    ap.add_argument("--fixed-iters", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    header = (
        f"{'device':6} {'shape':8} {'k':>2} {'lam':>6} {'ms/iter':>8} {'iters':>6} {'max':>4} "
        f"{'conv':>5} {'proj/s':>8}"
    )
    print(header)
    for device in devices:
        for name in args.shapes:
            for k in args.ks:
                for lam in args.lams:
                    r = bench_case(device, name, k, lam, args)
                    rows.append(r)
                    print(
                        f"{device:6} {name:8} {k:>2} {lam:>6.0f} {r['ms_per_iter']:>8.2f} "
                        f"{r['iters_mean']:>6.1f} {r['iters_max']:>4} {r['converged']:>5.2f} "
                        f"{r['proj_per_s']:>8.1f}"
                    )
    meta = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "loadavg_at_end": os.getloadavg(),
        "eps": args.eps,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
