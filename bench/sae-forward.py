# numpy reference for bench/sae-forward.bench.ts: the same SAE forward, written the way a numpy user would.
# stdin: {"arch": "jumprelu"|"topk", "d_in", "d_sae", "tokens", "threshold" (jumprelu), "k" (topk), "reps", "chunk"}
# stdout: {"rows": [{"name", "seconds", "tokens_per_s", "mean_l0"}], "blas"}
import json, sys, time
import numpy as np

cfg = json.load(sys.stdin)
d_in, d_sae, n, chunk = cfg["d_in"], cfg["d_sae"], cfg["tokens"], cfg["chunk"]
rng = np.random.default_rng(0)
W_enc = rng.standard_normal((d_in, d_sae), dtype=np.float32) / np.float32(np.sqrt(d_in))
W_dec = rng.standard_normal((d_sae, d_in), dtype=np.float32) / np.float32(np.sqrt(d_sae))
b_dec = (0.1 * rng.standard_normal(d_in, dtype=np.float32))
x = rng.standard_normal((n, d_in), dtype=np.float32)


def jumprelu_forward(xb):
    pre = xb @ W_enc + b_enc
    f = pre * (pre > threshold)
    xhat = f @ W_dec + b_dec
    return xhat, (f > 0).sum()


def topk_select(xb):
    """Indices [rows, k] and values (ReLU applied) of the k largest pre-activations per row."""
    pre = (xb - b_dec) @ W_enc + b_enc
    idx = np.argpartition(pre, -k, axis=1)[:, -k:]
    vals = np.maximum(np.take_along_axis(pre, idx, axis=1), 0)
    return idx, vals


def topk_sparse(xb):
    idx, vals = topk_select(xb)
    xhat = np.einsum("rk,rkd->rd", vals, W_dec[idx]) + b_dec
    return xhat, (vals > 0).sum()


def topk_dense(xb):
    idx, vals = topk_select(xb)
    f = np.zeros((xb.shape[0], d_sae), dtype=np.float32)
    np.put_along_axis(f, idx, vals, axis=1)
    xhat = f @ W_dec + b_dec
    return xhat, (vals > 0).sum()


def run_whole(forward):
    def whole():
        _, active = forward(x)
        return active / n
    return whole


def run_chunked(forward):
    def chunked():
        active = 0
        for s in range(0, n, chunk):
            _, a = forward(x[s:s + chunk])
            active += a
        return active / n
    return chunked


if cfg["arch"] == "jumprelu":
    b_enc = np.zeros(d_sae, dtype=np.float32)
    threshold = np.full(d_sae, cfg["threshold"], dtype=np.float32)
    variants = [("numpy, one batch", run_whole(jumprelu_forward)),
                (f"numpy, {chunk}-token chunks", run_chunked(jumprelu_forward))]
else:
    k = cfg["k"]
    b_enc = (-0.1 + 0.1 * rng.standard_normal(d_sae, dtype=np.float32))
    variants = [(f"numpy argpartition, sparse decode, {chunk}-token chunks", run_chunked(topk_sparse)),
                (f"numpy argpartition, dense decode, {chunk}-token chunks", run_chunked(topk_dense))]

rows = []
for name, fn in variants:
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
