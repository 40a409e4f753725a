# The numpy side of bench/hf-forward.bench.ts (a benchmark reference only).
#   gen:     writes a random BF16 Hugging Face checkpoint folder of the given config (streamed, tensor by tensor)
#   forward: loads it (all weights converted to float32 up front, not timed), runs the float32 forward of transformers'
#            eager Llama / Gemma 2 on the given tokens; prints tokens/s, peak RSS and the mean next-token loss.
import json, os, resource, sys, time
import numpy as np


def shapes(c):
    d, q, kv, h = c["hidden_size"], c["num_attention_heads"] * c["head_dim"], c["num_key_value_heads"] * c["head_dim"], c["intermediate_size"]
    out = [("model.embed_tokens.weight", [c["vocab_size"], d]), ("model.norm.weight", [d])]
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        out += [(p + "input_layernorm.weight", [d]), (p + "post_attention_layernorm.weight", [d]),
                (p + "self_attn.q_proj.weight", [q, d]), (p + "self_attn.k_proj.weight", [kv, d]),
                (p + "self_attn.v_proj.weight", [kv, d]), (p + "self_attn.o_proj.weight", [d, q]),
                (p + "mlp.gate_proj.weight", [h, d]), (p + "mlp.up_proj.weight", [h, d]), (p + "mlp.down_proj.weight", [d, h])]
        if c["model_type"] == "gemma2":
            out += [(p + "pre_feedforward_layernorm.weight", [d]), (p + "post_feedforward_layernorm.weight", [d])]
    return out


def gen(c, folder):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    items, header, off = shapes(c), {}, 0
    for name, shape in items:
        n = int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + 2 * n]}
        off += 2 * n
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(folder, "model.safetensors.tmp"), "wb") as f:
        f.write(len(h).to_bytes(8, "little")); f.write(h)
        for name, shape in items:
            n = int(np.prod(shape))
            # Random bf16 bits: random sign and mantissa, exponent 2^-9 … 2^-6 (|w| ≈ 0.002 … 0.03, like 1/√d).
            for s in range(0, n, 1 << 26):
                m = min(1 << 26, n - s)
                bits = (rng.integers(0, 1 << 16, m, dtype=np.uint16) & 0x807F) | ((rng.integers(118, 122, m, dtype=np.uint16)) << 7)
                f.write(bits.astype("<u2").tobytes())
    os.replace(os.path.join(folder, "model.safetensors.tmp"), os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(c, f)


def load(folder):
    path = os.path.join(folder, "model.safetensors")
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    raw = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    w = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        bits = np.frombuffer(raw[a:b], dtype="<u2")
        w[name] = (bits.astype(np.uint32) << 16).view(np.float32).reshape(info["shape"])
    return w


def rms(x, w, eps, gemma):
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y * ((1 + w) if gemma else w)


def inv_freq(c, hd):
    rp = c.get("rope_parameters") or c.get("rope_scaling")
    theta = (rp or {}).get("rope_theta", c.get("rope_theta", 10000))
    inv = 1.0 / theta ** (np.arange(0, hd, 2, dtype=np.float32) / hd)
    if rp and rp.get("rope_type") == "llama3":
        f, lo, hi, old = rp["factor"], rp["low_freq_factor"], rp["high_freq_factor"], rp["original_max_position_embeddings"]
        wl = 2 * np.pi / inv
        s = (old / wl - lo) / (hi - lo)
        inv = np.where(wl > old / lo, inv / f, np.where(wl < old / hi, inv, (1 - s) * inv / f + s * inv))
    return inv.astype(np.float32)


def forward(c, w, tokens):
    gemma = c["model_type"] == "gemma2"
    B, T = tokens.shape
    d, nH, nKv, hd = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    eps = c["rms_norm_eps"]
    scale = (c["query_pre_attn_scalar"] if gemma else hd) ** -0.5
    ang = np.arange(T, dtype=np.float32)[:, None] * inv_freq(c, hd)[None, :]
    cos, sin = np.cos(np.concatenate([ang, ang], -1)), np.sin(np.concatenate([ang, ang], -1))
    rot = lambda x: np.concatenate([-x[..., hd // 2:], x[..., : hd // 2]], -1)
    x = w["model.embed_tokens.weight"][tokens].astype(np.float32)
    if gemma: x = x * np.float32(np.sqrt(d))
    causal = np.tril(np.ones((T, T), bool))
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms(x, w[p + "input_layernorm.weight"], eps, gemma)
        q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(B, T, nH, hd).transpose(0, 2, 1, 3)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(B, T, nKv, hd).transpose(0, 2, 1, 3)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(B, T, nKv, hd).transpose(0, 2, 1, 3)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k, v = np.repeat(k, nH // nKv, 1), np.repeat(v, nH // nKv, 1)
        s = (q @ k.transpose(0, 1, 3, 2)) * np.float32(scale)
        if gemma and c.get("attn_logit_softcapping"): s = np.tanh(s / c["attn_logit_softcapping"]) * c["attn_logit_softcapping"]
        mask = causal
        if gemma and l % 2 == 0 and c.get("sliding_window"): mask = mask & ~np.tril(np.ones((T, T), bool), -c["sliding_window"])
        s = np.where(mask, s, np.float32(-np.inf))
        s = np.exp(s - s.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(0, 2, 1, 3).reshape(B, T, nH * hd) @ w[p + "self_attn.o_proj.weight"].T
        if gemma: a = rms(a, w[p + "post_attention_layernorm.weight"], eps, True)
        x = x + a
        h = rms(x, w[p + ("pre_feedforward_layernorm" if gemma else "post_attention_layernorm") + ".weight"], eps, gemma)
        g, u = h @ w[p + "mlp.gate_proj.weight"].T, h @ w[p + "mlp.up_proj.weight"].T
        act = 0.5 * g * (1 + np.tanh(np.float32(np.sqrt(2 / np.pi)) * (g + np.float32(0.044715) * g ** 3))) if gemma else g / (1 + np.exp(-g))
        m = (act * u) @ w[p + "mlp.down_proj.weight"].T
        if gemma: m = rms(m, w[p + "post_feedforward_layernorm.weight"], eps, True)
        x = x + m
    h = rms(x[:, :-1], w["model.norm.weight"], eps, gemma).reshape(B * (T - 1), d)
    z = h @ w["model.embed_tokens.weight"].T
    if gemma and c.get("final_logit_softcapping"): z = np.tanh(z / c["final_logit_softcapping"]) * c["final_logit_softcapping"]
    mx = z.max(-1, keepdims=True)
    lse = np.log(np.exp(z - mx).sum(-1)) + mx[:, 0]
    return float(np.mean(lse - z[np.arange(B * (T - 1)), tokens[:, 1:].reshape(-1)]))


if __name__ == "__main__":
    req = json.load(sys.stdin)
    if req["op"] == "gen":
        gen(req["config"], req["dir"]); print(json.dumps({"ok": True}))
    else:
        c = json.load(open(os.path.join(req["dir"], "config.json")))
        w = load(req["dir"])
        tokens = np.array(req["tokens"], dtype=np.int64)
        forward(c, w, tokens[:, :8])  # warm-up (page faults, BLAS threads)
        t0, c0 = time.time(), time.process_time(); loss = forward(c, w, tokens); dt, dc = time.time() - t0, time.process_time() - c0
        print(json.dumps({"seconds": dt, "cpuSeconds": dc, "tokensPerSecond": tokens.size / dt, "loss": loss,
                          "maxRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
