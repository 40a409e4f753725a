#!/usr/bin/env python3
"""numpy reference side of bench/ols.bench.ts: one least-squares route per process (so ru_maxrss is that route's peak).

stdin JSON: {"x": path, "y": path, "rows": N, "d": d, "p": p, "route": "lstsq64" | "normal64" | "normal32",
             "ours": path to our float64 [d, p] coefficients or null}
The raw float32 files are the ones the TS side wrote (memory-mapped here, so both sides fit identical data).
stdout JSON: {"seconds", "max_rss_mb", "max_rel_diff_vs_ours"}.
"""
import json
import resource
import sys
import time

import numpy as np

cfg = json.load(sys.stdin)
n, d, p = cfg["rows"], cfg["d"], cfg["p"]
x_all = np.memmap(cfg["x"], dtype=np.float32, mode="r", shape=(cfg["file_rows"], d))
y_all = np.memmap(cfg["y"], dtype=np.float32, mode="r", shape=(cfg["file_rows"], p))
x, y = x_all[:n], y_all[:n]

t0 = time.perf_counter()
route = cfg["route"]
if route == "lstsq64":
    coef = np.linalg.lstsq(x.astype(np.float64), y.astype(np.float64), rcond=None)[0]
elif route == "normal64":
    x64 = x.astype(np.float64)
    coef = np.linalg.solve(x64.T @ x64, x64.T @ y.astype(np.float64))
elif route == "normal32":
    xa = np.asarray(x)
    coef = np.linalg.solve(xa.T @ xa, xa.T @ np.asarray(y))
else:
    raise SystemExit(f"unknown route {route}")
seconds = time.perf_counter() - t0

diff = None
if cfg.get("ours"):
    ours = np.fromfile(cfg["ours"], dtype=np.float64).reshape(d, p)
    diff = float(np.max(np.abs(ours - coef)) / np.max(np.abs(coef)))
print(json.dumps({
    "seconds": seconds,
    "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "max_rel_diff_vs_ours": diff,
}))
