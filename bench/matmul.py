# numpy reference for bench/matmul.bench.ts: reads {"shapes": [[m,k,n],...], "reps": r} on stdin, prints GFLOP/s.
import json, sys, time
import numpy as np

cfg = json.load(sys.stdin)
rng = np.random.default_rng(0)
out = []
for m, k, n in cfg["shapes"]:
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    a @ b
    times = []
    for _ in range(cfg["reps"]):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    out.append(2 * m * k * n / sorted(times)[len(times) // 2] / 1e9)
try:
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    name = f'{blas.get("name")} {blas.get("version")}'
except Exception:
    name = "numpy " + np.__version__
print(json.dumps({"gflops": out, "blas": name}))
