# numpy reference for bench/lm-forward.bench.ts: an independent batched llama2.c forward (float32, multithreaded BLAS).
# stdin: {"models": [{"name", "path", "tokens": [[...], ...]}], "reps": r}
# stdout: {"rows": [{"name", "tokens_per_s", "mean_loss"}], "blas"}
import json, sys, time
import numpy as np

def load(path):
    raw = np.fromfile(path, dtype=np.int32, count=7)
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = (int(v) for v in raw)
    shared = vocab > 0
    vocab = abs(vocab)
    hs = dim // n_heads
    kv = n_kv * hs
    data = np.fromfile(path, dtype=np.float32, offset=28)
    at = 0
    def take(*shape):
        nonlocal at
        n = int(np.prod(shape))
        a = data[at:at + n].reshape(shape)
        at += n
        return a
    w = {"emb": take(vocab, dim), "rms_att": take(n_layers, dim), "wq": take(n_layers, dim, dim),
         "wk": take(n_layers, kv, dim), "wv": take(n_layers, kv, dim), "wo": take(n_layers, dim, dim),
         "rms_ffn": take(n_layers, dim), "w1": take(n_layers, hidden, dim), "w2": take(n_layers, dim, hidden),
         "w3": take(n_layers, hidden, dim), "rms_final": take(dim)}
    take(seq_len, hs // 2); take(seq_len, hs // 2)
    w["wcls"] = w["emb"] if shared else take(vocab, dim)
    # Pre-transposed contiguous copies so every projection is x @ W.
    t = {k: np.ascontiguousarray(np.swapaxes(w[k], -1, -2)) for k in ["wq", "wk", "wv", "wo", "w1", "w2", "w3", "wcls"]}
    w.update(t)
    cfg = dict(dim=dim, hidden=hidden, n_layers=n_layers, n_heads=n_heads, n_kv=n_kv, vocab=vocab, hs=hs)
    return cfg, w

def rms(x, g):
    return x * (1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-5)) * g

def forward_loss(cfg, w, tokens):
    B, T = tokens.shape
    d, H, Hkv, hs = cfg["dim"], cfg["n_heads"], cfg["n_kv"], cfg["hs"]
    g = H // Hkv
    freq = 10000.0 ** (-(np.arange(0, hs, 2) / hs))
    ang = np.arange(T)[:, None] * freq[None, :]
    cos = np.cos(ang).astype(np.float32)[None, :, None, :]  # [1, T, 1, hs/2]
    sin = np.sin(ang).astype(np.float32)[None, :, None, :]
    mask = np.triu(np.full((T, T), -1e9, dtype=np.float32), 1)
    scale = np.float32(1 / np.sqrt(hs))
    def rope(x, heads):
        x = x.reshape(B, T, heads, hs // 2, 2)
        a, b = x[..., 0], x[..., 1]
        return np.stack([a * cos - b * sin, a * sin + b * cos], axis=-1).reshape(B, T, heads, hs)
    x = w["emb"][tokens].reshape(B * T, d)
    for l in range(cfg["n_layers"]):
        h = rms(x, w["rms_att"][l])
        # Contiguous operands keep numpy's stacked matmul on BLAS; the score scale rides on q; softmax in place.
        q = np.ascontiguousarray(rope(h @ w["wq"][l] * scale, H).transpose(0, 2, 1, 3)).reshape(B, Hkv, g * T, hs)
        k = np.ascontiguousarray(rope(h @ w["wk"][l], Hkv).transpose(0, 2, 3, 1))  # [B, Hkv, hs, T]
        v = np.ascontiguousarray((h @ w["wv"][l]).reshape(B, T, Hkv, hs).transpose(0, 2, 1, 3))
        s = (q @ k).reshape(B, Hkv, g, T, T)
        s += mask
        s -= s.max(axis=-1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        o = (s.reshape(B, Hkv, g * T, T) @ v).reshape(B, H, T, hs).transpose(0, 2, 1, 3).reshape(B * T, d)
        x = x + o @ w["wo"][l]
        h = rms(x, w["rms_ffn"][l])
        a = h @ w["w1"][l]
        x = x + ((a / (1 + np.exp(-a))) * (h @ w["w3"][l])) @ w["w2"][l]
    xs = rms(x.reshape(B, T, d)[:, :-1].reshape(B * (T - 1), d), w["rms_final"])
    logits = xs @ w["wcls"]
    m = logits.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(logits - m).sum(axis=-1)) + m[:, 0]
    picked = logits[np.arange(B * (T - 1)), tokens[:, 1:].reshape(-1)]
    return (lse - picked).reshape(B, T - 1)

cfg_in = json.load(sys.stdin)
rows = []
for m in cfg_in["models"]:
    cfg, w = load(m["path"])
    tokens = np.array(m["tokens"], dtype=np.int64)
    loss = forward_loss(cfg, w, tokens)
    times = []
    for _ in range(cfg_in["reps"]):
        t0 = time.perf_counter()
        forward_loss(cfg, w, tokens)
        times.append(time.perf_counter() - t0)
    rows.append({"name": m["name"], "tokens_per_s": tokens.size / sorted(times)[len(times) // 2], "mean_loss": float(loss.mean())})
try:
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    name = f'{blas.get("name")} {blas.get("version")}'
except Exception:
    name = "numpy " + np.__version__
print(json.dumps({"rows": rows, "blas": name}))
