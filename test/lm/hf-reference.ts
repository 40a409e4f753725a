// An independent float64 reference of transformers' eager LlamaForCausalLM and Gemma2ForCausalLM, written straight
// from the Python (one token, one head at a time, rotate-half RoPE on the unpermuted weights), used only by tests.
// It reads config.json's fields itself and takes the weights as a plain name → float64 record in HF layout.

export type Weights = Record<string, { shape: number[]; data: Float64Array }>;
export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface ReferenceResult {
  /** [T, V] per sequence, concatenated: logits[b][t][v]. */
  logits: Float64Array[][];
  /** hook name → per sequence [T][d]. */
  hooks: Map<string, Float64Array[][]>;
}

/** A replacement at a hook: (sequence, position, original row) → new row. */
export type Override = (b: number, t: number, row: Float64Array) => Float64Array;

function matvec(w: { shape: number[]; data: Float64Array }, x: Float64Array, bias?: { data: Float64Array }): Float64Array {
  const [out, inp] = w.shape;
  const y = new Float64Array(out);
  for (let i = 0; i < out; i++) {
    let s = bias ? bias.data[i] : 0;
    for (let j = 0; j < inp; j++) s += w.data[i * inp + j] * x[j];
    y[i] = s;
  }
  return y;
}

function rms(x: Float64Array, w: Float64Array, eps: number, gemma: boolean): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * (gemma ? 1 + w[i] : w[i]));
}

function invFreq(cfg: Json, hd: number): number[] {
  const rp = cfg.rope_parameters ?? cfg.rope_scaling ?? null;
  const theta = rp?.rope_theta ?? cfg.rope_theta ?? 10000;
  const inv = Array.from({ length: hd / 2 }, (_, j) => Math.pow(theta, -(2 * j) / hd));
  if (!rp || (rp.rope_type ?? rp.type) !== "llama3") return inv;
  const { factor, low_freq_factor: lo, high_freq_factor: hi, original_max_position_embeddings: old } = rp;
  return inv.map((f) => {
    const wl = (2 * Math.PI) / f;
    if (wl < old / hi) return f;
    if (wl > old / lo) return f / factor;
    const s = (old / wl - lo) / (hi - lo);
    return (1 - s) * (f / factor) + s * f;
  });
}

/** Runs the reference on sequences of token ids. */
export function referenceForward(cfg: Json, w: Weights, tokens: number[][], overrides: Map<string, Override> = new Map()): ReferenceResult {
  const gemma = cfg.model_type === "gemma2";
  const d = cfg.hidden_size, nH = cfg.num_attention_heads, nKv = cfg.num_key_value_heads ?? nH;
  const hd = cfg.head_dim ?? d / nH, L = cfg.num_hidden_layers, V = cfg.vocab_size, eps = cfg.rms_norm_eps ?? 1e-6;
  const scale = gemma ? Math.pow(cfg.query_pre_attn_scalar, -0.5) : Math.pow(hd, -0.5);
  const softcapA = gemma ? cfg.attn_logit_softcapping ?? null : null, softcapF = gemma ? cfg.final_logit_softcapping ?? null : null;
  const inv = invFreq(cfg, hd), half = hd / 2;
  const get = (n: string) => w[n];
  const opt = (n: string) => w[n] as { shape: number[]; data: Float64Array } | undefined;
  const hooks = new Map<string, Float64Array[][]>();
  const logits: Float64Array[][] = [];
  const record = (name: string, b: number, rows: Float64Array[]): Float64Array[] => {
    const o = overrides.get(name);
    const out = o ? rows.map((r, t) => o(b, t, r)) : rows;
    if (!hooks.has(name)) hooks.set(name, []);
    hooks.get(name)![b] = out.map((r) => r.slice());
    return out;
  };
  const rope = (v: Float64Array, pos: number): Float64Array => {
    const o = new Float64Array(hd);
    for (let i = 0; i < half; i++) {
      const c = Math.cos(pos * inv[i]), s = Math.sin(pos * inv[i]);
      o[i] = v[i] * c - v[i + half] * s;
      o[i + half] = v[i + half] * c + v[i] * s;
    }
    return o;
  };
  tokens.forEach((seq, b) => {
    const T = seq.length, E = get("model.embed_tokens.weight");
    let x = seq.map((tok) => {
      const r = E.data.slice(tok * d, (tok + 1) * d);
      return gemma ? r.map((v) => v * Math.sqrt(d)) : r;
    });
    for (let l = 0; l < L; l++) {
      const p = `model.layers.${l}.`;
      x = record(`blocks.${l}.hook_resid_pre`, b, x);
      const h = x.map((r) => rms(r, get(`${p}input_layernorm.weight`).data, eps, gemma));
      const q = h.map((r) => matvec(get(`${p}self_attn.q_proj.weight`), r, opt(`${p}self_attn.q_proj.bias`)));
      const k = h.map((r) => matvec(get(`${p}self_attn.k_proj.weight`), r, opt(`${p}self_attn.k_proj.bias`)));
      const v = h.map((r) => matvec(get(`${p}self_attn.v_proj.weight`), r, opt(`${p}self_attn.v_proj.bias`)));
      const sliding = gemma && (cfg.layer_types ? cfg.layer_types[l] === "sliding_attention" : l % 2 === 0);
      const win = sliding ? cfg.sliding_window : Infinity;
      const heads = Array.from({ length: T }, () => new Float64Array(nH * hd));
      for (let hh = 0; hh < nH; hh++) {
        const kh = Math.floor(hh / (nH / nKv));
        const ks = k.map((r, t) => rope(r.slice(kh * hd, (kh + 1) * hd), t));
        for (let t = 0; t < T; t++) {
          const qr = rope(q[t].slice(hh * hd, (hh + 1) * hd), t);
          const sc: number[] = [];
          for (let j = 0; j < T; j++) {
            let s = 0;
            for (let i = 0; i < hd; i++) s += qr[i] * ks[j][i];
            s *= scale;
            if (softcapA) s = Math.tanh(s / softcapA) * softcapA;
            sc.push(j <= t && j > t - win ? s : -Infinity);
          }
          const m = Math.max(...sc);
          const e = sc.map((s) => Math.exp(s - m));
          const z = e.reduce((a, c) => a + c, 0);
          for (let j = 0; j < T; j++) for (let i = 0; i < hd; i++) heads[t][hh * hd + i] += (e[j] / z) * v[j][kh * hd + i];
        }
      }
      let a = heads.map((r) => matvec(get(`${p}self_attn.o_proj.weight`), r, opt(`${p}self_attn.o_proj.bias`)));
      if (gemma) a = a.map((r) => rms(r, get(`${p}post_attention_layernorm.weight`).data, eps, true));
      a = record(`blocks.${l}.hook_attn_out`, b, a);
      x = record(`blocks.${l}.hook_resid_mid`, b, x.map((r, t) => r.map((vv, i) => vv + a[t][i])));
      const h2 = x.map((r) => rms(r, get(`${p}${gemma ? "pre_feedforward_layernorm" : "post_attention_layernorm"}.weight`).data, eps, gemma));
      let m = h2.map((r) => {
        const g = matvec(get(`${p}mlp.gate_proj.weight`), r, opt(`${p}mlp.gate_proj.bias`));
        const u = matvec(get(`${p}mlp.up_proj.weight`), r, opt(`${p}mlp.up_proj.bias`));
        const act = g.map((gv, i) => (gemma
          ? 0.5 * gv * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (gv + 0.044715 * gv ** 3)))
          : gv / (1 + Math.exp(-gv))) * u[i]);
        return matvec(get(`${p}mlp.down_proj.weight`), act, opt(`${p}mlp.down_proj.bias`));
      });
      if (gemma) m = m.map((r) => rms(r, get(`${p}post_feedforward_layernorm.weight`).data, eps, true));
      m = record(`blocks.${l}.hook_mlp_out`, b, m);
      x = record(`blocks.${l}.hook_resid_post`, b, x.map((r, t) => r.map((vv, i) => vv + m[t][i])));
    }
    const tied = cfg.tie_word_embeddings ?? gemma;
    const head = tied ? get("model.embed_tokens.weight") : get("lm_head.weight");
    logits[b] = x.map((r) => {
      const z = matvec(head, rms(r, get("model.norm.weight").data, eps, gemma));
      return softcapF ? z.map((v) => Math.tanh(v / softcapF) * softcapF) : z;
    });
    void V;
  });
  return { logits, hooks };
}

/** −log softmax(logits[b][t])[tokens[b][t+1]] per (b, t < T−1). */
export function referenceLoss(logits: Float64Array[][], tokens: number[][]): number[][] {
  return tokens.map((seq, b) => seq.slice(1).map((next, t) => {
    const z = logits[b][t];
    const m = Math.max(...z);
    return Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0)) + m - z[next];
  }));
}
