# numpy reference for bench/sae-forward.bench.ts: the same JumpReLU SAE forward, written the way a numpy user would.
# stdin: {"d_in", "d_sae", "tokens", "threshold", "reps", "chunk"}
# stdout: {"rows": [{"name", "seconds", "tokens_per_s", "mean_l0"}], "blas"}
import json, sys, time
import numpy as np

cfg = json.load(sys.stdin)
d_in, d_sae, n = cfg["d_in"], cfg["d_sae"], cfg["tokens"]
rng = np.random.default_rng(0)
W_enc = rng.standard_normal((d_in, d_sae), dtype=np.float32) / np.float32(np.sqrt(d_in))
W_dec = rng.standard_normal((d_sae, d_in), dtype=np.float32) / np.float32(np.sqrt(d_sae))
b_enc = np.zeros(d_sae, dtype=np.float32)
b_dec = (0.1 * rng.standard_normal(d_in, dtype=np.float32))
threshold = np.full(d_sae, cfg["threshold"], dtype=np.float32)
x = rng.standard_normal((n, d_in), dtype=np.float32)


def forward(xb):
    pre = xb @ W_enc + b_enc
    f = pre * (pre > threshold)
    xhat = f @ W_dec + b_dec
    return xhat, f


def whole():
    xhat, f = forward(x)
    return (f > 0).sum(1).mean()


def chunked():
    l0 = 0
    for s in range(0, n, cfg["chunk"]):
        xhat, f = forward(x[s:s + cfg["chunk"]])
        l0 += (f > 0).sum()
    return l0 / n


rows = []
for name, fn in [("numpy, one batch", whole), (f"numpy, {cfg['chunk']}-token chunks", chunked)]:
    fn()
    times = []
    for _ in range(cfg["reps"]):
        t0 = time.perf_counter()
        l0 = fn()
        times.append(time.perf_counter() - t0)
    t = sorted(times)[len(times) // 2]
    rows.append({"name": name, "seconds": t, "tokens_per_s": n / t, "mean_l0": float(l0)})
try:
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    blas_name = f'{blas.get("name")} {blas.get("version")}'
except Exception:
    blas_name = "numpy " + np.__version__
print(json.dumps({"rows": rows, "blas": blas_name}))
