"""Done-criterion of issue #3: projections of real MNIST images are feasible under exact OT.

For N MNIST test images x, w = x + step * sign(noise) (a random l_inf sign step), and each eps,
z = project(x, w, eps) must have exact local transport cost <= eps (1 + 1e-3), mass preserved to
1e-4 relative, and no NaN. Prints the worst figures; exit status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

import numpy as np
import torch

from wsattack.ot import exact_cost, project, wasserstein_cost

DEFAULT_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "MNIST" / "raw"


def read_mnist_images(root: Path, n: int) -> torch.Tensor:
    """The first n images of t10k-images-idx3-ubyte(.gz) as (n, 1, 28, 28) floats in [0, 1]."""
    path = root / "t10k-images-idx3-ubyte.gz"
    opener = gzip.open if path.is_file() else open
    path = path if path.is_file() else root / "t10k-images-idx3-ubyte"
    with opener(path, "rb") as f:
        magic, count, rows, cols = np.frombuffer(f.read(16), dtype=">i4")
        if magic != 2051:
            raise ValueError(f"{path} is not an IDX image file")
        n = min(n, int(count))
        data = np.frombuffer(f.read(n * rows * cols), dtype=np.uint8)
    return torch.from_numpy(data.reshape(n, 1, rows, cols).astype(np.float32) / 255.0)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--eps", type=float, nargs="+", default=[0.1, 0.5, 1.0])
    ap.add_argument("--step", type=float, default=0.1)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--p", type=float, default=2.0)
    ap.add_argument("--lam", type=float, default=1000.0)
    ap.add_argument("--max-iter", type=int, default=50)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--float64", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args()


def check_eps(x, w, eps, cost, args) -> dict:
    start = time.perf_counter()
    zs, iters = [], []
    for i in range(0, len(x), args.batch):
        res = project(
            x[i : i + args.batch],
            w[i : i + args.batch],
            eps,
            cost,
            lam=args.lam,
            max_iter=args.max_iter,
        )
        zs.append(res.z)
        iters.append(res.iterations)
    z = torch.cat(zs)
    t_proj = time.perf_counter() - start
    ex = exact_cost(x.double(), z.double(), cost)
    mass_err = np.abs(ex.mass_y / ex.mass_x - 1.0)
    it = torch.cat(iters).float()
    return {
        "eps": eps,
        "max_exact_cost_over_eps": float(np.max(ex.cost) / eps),
        "max_rel_mass_error": float(mass_err.max()),
        "nan_count": int(torch.isnan(z).sum()),
        "min_pixel": float(z.min()),
        "mean_iterations": float(it.mean()),
        "projection_s": t_proj,
        "exact_s": time.perf_counter() - start - t_proj,
    }


def main() -> int:
    args = parse_args()
    torch.manual_seed(args.seed)
    x = read_mnist_images(args.data_root, args.n)
    if args.float64:
        x = x.double()
    w = x + args.step * torch.sign(torch.randn_like(x))
    cost = wasserstein_cost(args.k, p=args.p)
    ok = True
    print(f"{len(x)} MNIST images, k={args.k} p={args.p} lam={args.lam} max_iter={args.max_iter}")
    for eps in args.eps:
        r = check_eps(x, w, eps, cost, args)
        passed = (
            r["max_exact_cost_over_eps"] <= 1 + 1e-3
            and r["max_rel_mass_error"] <= 1e-4
            and r["nan_count"] == 0
            and r["min_pixel"] >= 0
        )
        ok &= passed
        print(
            " ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items())
            + f" {'PASS' if passed else 'FAIL'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
