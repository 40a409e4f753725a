# numpy reference for bench/train-step.bench.ts: one TopK SAE training step (forward, FVU loss, backward, decoder
# gradient projection, global-norm clip, Adam, decoder renorm), written two ways:
#   "dense":  every product through BLAS, the sparse activations scattered into a dense [B, n] matrix;
#   "sparse": the activations as a scipy.sparse CSR matrix for decode and both weight gradients (skipped without scipy).
# Reads {"cases": [{"d", "n", "k", "batch"}], "reps"} on stdin; prints per case the median seconds per step
# of each variant and the FVU of the first step (a correctness check against the TypeScript side).
import json, sys, time
import numpy as np

try:
    import scipy.sparse as sp
except ImportError:  # the sparse variant is optional
    sp = None

B1, B2, EPS, CLIP = 0.9, 0.999, 1e-8, 1.0


def init(d, n, batch):
    # The same closed-form data and initial weights as the TypeScript side, so the first step's FVU must agree.
    x = (np.sin(0.37 * np.arange(batch * d) + 1) + 0.5 * np.sin(0.011 * np.arange(batch * d)))
    x = x.astype(np.float32).reshape(batch, d)
    w_dec = np.sin(0.71 * np.arange(n * d) + 2).astype(np.float32).reshape(n, d)
    w_dec /= np.linalg.norm(w_dec.astype(np.float64), axis=1, keepdims=True).astype(np.float32)
    params = {"W_enc": np.ascontiguousarray(w_dec.T), "b_enc": np.zeros(n, np.float32), "W_dec": w_dec,
              "b_dec": x.mean(0, dtype=np.float64).astype(np.float32)}
    state = {"t": 0, "m": {k: np.zeros_like(v) for k, v in params.items()},
             "v": {k: np.zeros_like(v) for k, v in params.items()}}
    return x, params, state


def topk(pre, k):
    np.maximum(pre, 0, out=pre)
    idx = np.argpartition(pre, -k, axis=1)[:, -k:]
    return idx, np.take_along_axis(pre, idx, axis=1)


def update(params, grads, state, lr):
    w_dec, g_dec = params["W_dec"], grads["W_dec"]
    g_dec -= np.einsum("nd,nd->n", g_dec, w_dec)[:, None] * w_dec
    norm = float(np.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads.values())))
    scale = CLIP / (norm + 1e-6) if norm > CLIP else 1.0
    state["t"] += 1
    t = state["t"]
    step = lr / (1 - B1 ** t)
    inv = 1 / np.sqrt(1 - B2 ** t)
    for name, p in params.items():
        g = grads[name] * np.float32(scale)
        m, v = state["m"][name], state["v"][name]
        m *= B1; m += (1 - B1) * g
        v *= B2; v += (1 - B2) * g * g
        p -= step * m / (np.sqrt(v) * inv + EPS)
    w_dec /= np.linalg.norm(w_dec, axis=1, keepdims=True)


def step_dense(x, params, state, k, lr):
    xc = x - params["b_dec"]
    pre = xc @ params["W_enc"]
    pre += params["b_enc"]
    idx, vals = topk(pre, k)
    f = np.zeros_like(pre)
    np.put_along_axis(f, idx, vals, axis=1)
    xhat = f @ params["W_dec"] + params["b_dec"]
    e = xhat - x
    denom = float(np.square(x - x.mean(0)).sum(dtype=np.float64))
    fvu = float(np.square(e).sum(dtype=np.float64)) / denom
    g = e * np.float32(2 / denom)
    df = g @ params["W_dec"].T
    df *= f > 0
    g_benc = df.sum(0)
    grads = {"W_enc": xc.T @ df, "b_enc": g_benc, "W_dec": f.T @ g,
             "b_dec": g.sum(0) - params["W_enc"] @ g_benc}
    update(params, grads, state, lr)
    return fvu


def step_sparse(x, params, state, k, lr):
    n = params["b_enc"].shape[0]
    batch = x.shape[0]
    xc = x - params["b_dec"]
    pre = xc @ params["W_enc"]
    pre += params["b_enc"]
    idx, vals = topk(pre, k)
    rows = np.repeat(np.arange(batch), k)
    f = sp.csr_matrix((vals.ravel(), (rows, idx.ravel())), shape=(batch, n))
    xhat = f @ params["W_dec"] + params["b_dec"]
    e = xhat - x
    denom = float(np.square(x - x.mean(0)).sum(dtype=np.float64))
    fvu = float(np.square(e).sum(dtype=np.float64)) / denom
    g = e * np.float32(2 / denom)
    dvals = np.einsum("bd,bkd->bk", g, params["W_dec"][idx]) * (vals > 0)
    df = sp.csr_matrix((dvals.ravel().astype(np.float32), (rows, idx.ravel())), shape=(batch, n))
    g_benc = np.asarray(df.sum(0)).ravel().astype(np.float32)
    grads = {"W_enc": np.asarray((df.T @ xc).T), "b_enc": g_benc, "W_dec": np.asarray(f.T @ g),
             "b_dec": g.sum(0) - params["W_enc"] @ g_benc}
    update(params, grads, state, lr)
    return fvu


cfg = json.load(sys.stdin)
variants = {"dense": step_dense}
if sp is not None:
    variants["sparse"] = step_sparse
out = []
for case in cfg["cases"]:
    d, n, k, batch = case["d"], case["n"], case["k"], case["batch"]
    res = {}
    for name, fn in variants.items():
        x, params, state = init(d, n, batch)
        fvu = fn(x, params, state, k, 1e-4)  # warm-up step; also the correctness check
        times = []
        for _ in range(cfg["reps"]):
            t0 = time.perf_counter()
            fn(x, params, state, k, 1e-4)
            times.append(time.perf_counter() - t0)
        res[name] = {"seconds": sorted(times)[len(times) // 2], "first_fvu": fvu}
    out.append(res)
print(json.dumps({"cases": out, "numpy": np.__version__}))
