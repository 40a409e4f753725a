import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { type ActivationStore, buildActivationStore, openActivationStore, type StoreConfig } from "../../src/activations";
import { initBackend } from "../../src/backend";
import { InputError } from "../../src/errors";
import { writeNpy } from "../../src/io";
import { corpusPart } from "../../src/lm/corpus";
import { documentContexts, tokenRows } from "../../src/lm/corpus-tokens";
import { disposeParams, forward, toTensors } from "../../src/lm/model";
import { tokenizeWith } from "../../src/lm/train-default";
import { tiny } from "./tiny";

const HOOKS = ["blocks.0.hook_resid_post", "blocks.1.hook_mlp_out"];
const CONFIG: StoreConfig = { hooks: HOOKS, contexts: 12, ctx: 24, skip: 5, seed: 3, corpusPart: "all", contextsPerChunk: 5 };

let root: string;
before(async () => {
  await initBackend();
  root = fs.mkdtempSync(path.join(os.tmpdir(), "dm-store-"));
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

function inputs() {
  const t = tiny();
  return { weights: t.weights, tokenizer: t.tokenizer, corpus: t.corpus };
}

/** Every file of a store folder with its bytes (manifest excluded: it records times). */
function storeFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name !== "manifest.json") out.set(path.relative(dir, p), fs.readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

describe("activation store", () => {
  it("holds exactly the direct forward's tokens, losses and kept activations", () => {
    const { weights, tokenizer, corpus } = inputs();
    const built = buildActivationStore(inputs(), { root, config: CONFIG });
    const { reused, chunksBuilt } = built;
    assert.ok(built.store);
    const store: ActivationStore = built.store;
    assert.equal(reused, false);
    assert.equal(chunksBuilt, 3); // 5 + 5 + 2 contexts
    const K = CONFIG.ctx - 1 - CONFIG.skip;
    assert.equal(store.rows, CONFIG.contexts * K);
    assert.equal(store.d, weights.config.dim);

    // The same contexts, drawn directly, through the model's own forward pass.
    const tokenized = tokenizeWith(tokenizer, corpusPart(corpus, "all"));
    const ctxs = documentContexts(tokenized, CONFIG.contexts, CONFIG.ctx, CONFIG.seed);
    assert.deepEqual(store.tokens(), ctxs.tokens);
    // The forward runs in the store's batches (contextsPerChunk): matmul results may differ in the last bit between
    // batch sizes, and the store promises the exact values of its own forward.
    const params = toTensors(weights);
    const rows = tokenRows(ctxs.tokens, CONFIG.ctx);
    const direct = { loss: new Float32Array(CONFIG.contexts * (CONFIG.ctx - 1)), captured: new Map<string, Float32Array>() };
    for (const h of HOOKS) direct.captured.set(h, new Float32Array(CONFIG.contexts * CONFIG.ctx * weights.config.dim));
    for (let c = 0; c < CONFIG.contexts; c += CONFIG.contextsPerChunk) {
      const r = forward(params, rows.slice(c, c + CONFIG.contextsPerChunk), { capture: HOOKS as never, loss: true });
      direct.loss.set(r.loss!, c * (CONFIG.ctx - 1));
      for (const h of HOOKS) direct.captured.get(h)!.set(r.captured.get(h as never)!, c * CONFIG.ctx * weights.config.dim);
    }
    disposeParams(params);
    assert.deepEqual(store.losses(), direct.loss);
    const d = store.d;
    for (const h of HOOKS) {
      const full = direct.captured.get(h)!;
      const want = new Float32Array(store.rows * d);
      for (let c = 0; c < CONFIG.contexts; c++) {
        want.set(full.subarray((c * CONFIG.ctx + CONFIG.skip) * d, (c * CONFIG.ctx + CONFIG.ctx - 1) * d), c * K * d);
      }
      const all = store.readRows(h, 0, store.rows);
      assert.deepEqual(all.x, want, `${h} differs from the direct forward`);
      // Streaming in chunks that straddle chunk files gives the same rows, in order.
      const parts = [...store.chunks(h, 37)];
      assert.equal(parts.length, Math.ceil(store.rows / 37));
      const joined = new Float32Array(store.rows * d);
      for (const p of parts) joined.set(p.x, p.start * d);
      assert.deepEqual(joined, want);
      // An arbitrary window from the middle.
      const mid = store.readRows(h, 100, 50);
      assert.deepEqual(mid.x, want.subarray(100 * d, 150 * d));
    }
    // Per-row metadata: context, position inside the kept window, token there, loss of predicting the next token.
    const info = store.rowInfo(0, store.rows);
    for (let r = 0; r < store.rows; r++) {
      const c = Math.floor(r / K), p = CONFIG.skip + (r % K);
      assert.equal(info.context[r], c);
      assert.equal(info.position[r], p);
      assert.equal(info.token[r], ctxs.tokens[c * CONFIG.ctx + p]);
      assert.equal(info.loss[r], direct.loss[c * (CONFIG.ctx - 1) + p]);
    }
    const src = store.contextSources();
    for (let c = 0; c < CONFIG.contexts; c++) {
      assert.equal(src[2 * c], ctxs.doc[c]);
      assert.equal(src[2 * c + 1], ctxs.start[c]);
    }
    assert.equal(store.manifest.corpus.documentIds.length, corpus.documents.length);
    store.close();
  });

  it("reuses an unchanged store and builds a new folder for a changed config", () => {
    const first = buildActivationStore(inputs(), { root, config: CONFIG });
    assert.equal(first.reused, true);
    assert.equal(first.chunksBuilt, 0);
    first.store!.close();
    const changed = buildActivationStore(inputs(), { root, config: { ...CONFIG, skip: 0 } });
    assert.equal(changed.reused, false);
    assert.notEqual(changed.dir, first.dir);
    // skip 0 keeps the BOS position; the last position is always dropped.
    assert.equal(changed.store!.rows, CONFIG.contexts * (CONFIG.ctx - 1));
    assert.equal(changed.store!.rowInfo(0, 1).position[0], 0);
    assert.equal(changed.store!.rowInfo(0, 1).token[0], 1);
    changed.store!.close();
    // A different model is a different store too.
    const t = tiny();
    const other = { ...t.weights, rmsFinal: t.weights.rmsFinal.map((x) => x * 2) };
    const m2 = buildActivationStore({ ...inputs(), weights: other }, { root, config: CONFIG });
    assert.equal(m2.reused, false);
    assert.notEqual(m2.dir, first.dir);
    m2.store!.close();
  });

  it("resumes an interrupted build and ends byte-identical to an uninterrupted one", () => {
    const whole = buildActivationStore(inputs(), { root, config: CONFIG });
    whole.store!.close();
    const root2 = fs.mkdtempSync(path.join(os.tmpdir(), "dm-store-resume-"));
    try {
      const part = buildActivationStore(inputs(), { root: root2, config: CONFIG, maxChunks: 1 });
      assert.equal(part.store, null);
      assert.equal(part.chunksBuilt, 1);
      const manifest = JSON.parse(fs.readFileSync(path.join(part.dir, "manifest.json"), "utf8"));
      assert.deepEqual(manifest.finished, [0]);
      assert.equal(manifest.complete, false);
      assert.throws(() => openActivationStore(part.dir), (e: unknown) => e instanceof InputError && /unfinished.*resume/.test(e.message));
      // A half-written chunk from the interruption (a stray temp file) and a lost finished chunk file.
      fs.writeFileSync(path.join(part.dir, "acts", HOOKS[0], ".chunk-00001.npy.123.456.tmp"), "partial");
      const rest = buildActivationStore(inputs(), { root: root2, config: CONFIG });
      assert.equal(rest.chunksBuilt, 2);
      rest.store!.close();
      fs.rmSync(path.join(rest.dir, "acts", HOOKS[1], "chunk-00002.npy"));
      const healed = buildActivationStore(inputs(), { root: root2, config: CONFIG });
      assert.equal(healed.chunksBuilt, 1);
      healed.store!.close();
      assert.ok(!fs.existsSync(path.join(rest.dir, "acts", HOOKS[0], ".chunk-00001.npy.123.456.tmp")), "the killed writer's temp file is cleaned up");
      assert.deepEqual(storeFiles(rest.dir), storeFiles(whole.dir));
    } finally {
      fs.rmSync(root2, { recursive: true, force: true });
    }
  });

  it("rejects bad requests with an InputError", () => {
    const bad = (config: Partial<StoreConfig>, re: RegExp) =>
      assert.throws(() => buildActivationStore(inputs(), { root, config: { ...CONFIG, ...config } }),
        (e: unknown) => e instanceof InputError && re.test(e.message), JSON.stringify(config));
    bad({ hooks: ["blocks.2.hook_resid_post"] }, /layers 0\.\.1/);
    bad({ hooks: ["resid_post"] }, /not a hook name/);
    bad({ hooks: [] }, /at least one hook/);
    bad({ skip: 23 }, /leaves no position/);
    bad({ ctx: 65 }, /exceeds the model's context length 64/);
    bad({ contexts: 100000 }, /only \d+ windows/);
    bad({ contexts: 0 }, /contexts: must be an integer ≥ 1/);
  });

  it("rejects corrupt stores with an InputError naming the file", () => {
    const { dir, store } = buildActivationStore(inputs(), { root, config: CONFIG });
    store!.close();
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), "dm-store-bad-"));
    try {
      const fresh = () => { fs.rmSync(copy, { recursive: true, force: true }); fs.cpSync(dir, copy, { recursive: true }); };
      const mpath = path.join(copy, "manifest.json");
      const manifest = () => JSON.parse(fs.readFileSync(mpath, "utf8"));
      const expectBad = (re: RegExp, what: string) =>
        assert.throws(() => openActivationStore(copy), (e: unknown) => e instanceof InputError && re.test(e.message), what);
      const edit = (f: (m: Record<string, unknown>) => void) => { fresh(); const m = manifest(); f(m); fs.writeFileSync(mpath, JSON.stringify(m)); };

      fresh();
      openActivationStore(copy).close(); // the copy itself is fine
      fresh(); fs.writeFileSync(mpath, "{ not json"); expectBad(/manifest\.json: is not valid JSON/, "bad JSON");
      fresh(); fs.rmSync(mpath); expectBad(/cannot read the store manifest/, "missing manifest");
      edit((m) => { m.format = "something-else"; }); expectBad(/format is "something-else"/, "format");
      edit((m) => { m.version = 99; }); expectBad(/version 99/, "version");
      edit((m) => { m.rows = 5; }); expectBad(/rows is 5/, "rows");
      edit((m) => { (m.config as StoreConfig).skip = -1; }); expectBad(/config\.skip/, "skip");
      edit((m) => { (m.config as StoreConfig).hooks = ["blocks.9.hook_resid_post"]; }); expectBad(/layers 0\.\.1/, "hook layer");
      edit((m) => { m.finished = [0, 0, 1]; }); expectBad(/twice or beyond/, "finished");
      edit((m) => { m.chunks = []; }); expectBad(/chunks do not match/, "chunks");
      edit((m) => { m.d = 17; }); expectBad(/differs from model\.dim/, "d");
      edit((m) => { m.files = { ...(m.files as object), activations: "../../etc/{hook}" }; }); expectBad(/files\.activations/, "path");
      fresh(); fs.rmSync(path.join(copy, "acts", HOOKS[1], "chunk-00001.npy"));
      expectBad(/chunk-00001\.npy: cannot open/, "missing chunk");
      fresh(); writeNpy(path.join(copy, "acts", HOOKS[0], "chunk-00002.npy"), { dtype: "float32", shape: [3, 16], data: new Float32Array(48) });
      expectBad(/chunk-00002\.npy: activations of blocks\.0\.hook_resid_post has float32 \[3, 16\], expected float32 \[36, 16\]/, "chunk shape");
      fresh(); fs.truncateSync(path.join(copy, "acts", HOOKS[0], "chunk-00000.npy"), 200);
      expectBad(/chunk-00000\.npy/, "truncated chunk");
      fresh(); writeNpy(path.join(copy, "tokens.npy"), { dtype: "int32", shape: [12, 24], data: new Int32Array(288).fill(9999) });
      expectBad(/token 9999 .* outside the vocabulary/, "token range");
      // The builder refuses to overwrite a corrupt store rather than guessing.
      const original = fs.readFileSync(path.join(dir, "manifest.json"));
      fs.writeFileSync(path.join(dir, "manifest.json"), "[]");
      assert.throws(() => buildActivationStore(inputs(), { root, config: CONFIG }),
        (e: unknown) => e instanceof InputError && /manifest\.json: is not a JSON object/.test(e.message));
      const tampered = JSON.parse(original.toString());
      tampered.config.seed = 99;
      fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(tampered));
      assert.throws(() => buildActivationStore(inputs(), { root, config: CONFIG }),
        (e: unknown) => e instanceof InputError && /describes another store/.test(e.message));
      fs.writeFileSync(path.join(dir, "manifest.json"), original);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it("reads rows only inside the store", () => {
    const { store } = buildActivationStore(inputs(), { root, config: CONFIG });
    const s = store!;
    assert.throws(() => s.readRows(HOOKS[0], s.rows - 1, 2), InputError);
    assert.throws(() => s.readRows(HOOKS[0], -1, 1), InputError);
    assert.throws(() => s.readRows("blocks.0.hook_attn_out", 0, 1), /no hook/);
    assert.throws(() => [...s.chunks(HOOKS[0], 0)], /rowsPerChunk/);
    assert.equal(s.readRows(HOOKS[0], 5, 0).x.length, 0);
    s.close();
  });
});
