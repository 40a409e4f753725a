import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { openActivationStore } from "../../src/activations/store";
import { run } from "../../src/cli/activations";
import { InputError } from "../../src/errors";
import { writeNpy } from "../../src/io/npy";
import { tinyTokens, WORDS, writeTinyCheckpoint, writeWordTokenizer } from "../lm/hf-fixtures";
import { referenceForward, referenceLoss } from "../lm/hf-reference";

test("darkmatter activations --model HF_DIR --tokens T.npy --layers all: the store's activations and losses match the reference", async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hf-cli-"));
  const log = console.log, err = console.error;
  try {
    const dir = path.join(tmp, "gemma");
    const { cfg, weights } = writeTinyCheckpoint(dir, { modelType: "gemma2", dtype: "bfloat16", shards: 2 });
    const N = 5, T = 10;
    const tokens = tinyTokens(N, T, cfg.vocab_size, 9);
    const tokFile = path.join(tmp, "tokens.npy");
    writeNpy(tokFile, { dtype: "int32", shape: [N, T], data: Int32Array.from(tokens.flat()) });
    const out = path.join(tmp, "stores");
    const points = ["resid_pre", "attn_out", "mlp_out", "resid_post"];
    console.log = () => {}; console.error = () => {};
    assert.equal(await run(["--model", dir, "--tokens", tokFile, "--layers", "all", "--hook", points.join(","), "--skip", "0",
      "--chunk", "2", "--out", out]), 0);
    console.log = log; console.error = err;
    const storeDir = path.join(out, fs.readdirSync(out)[0]);
    const store = openActivationStore(storeDir);
    try {
      assert.deepEqual(Array.from(store.tokens()), tokens.flat(), "tokens used exactly, no BOS added");
      const ref = referenceForward(cfg, weights, tokens);
      const refLoss = referenceLoss(ref.logits, tokens).flat();
      const losses = store.losses();
      for (let i = 0; i < refLoss.length; i++) assert.ok(Math.abs(losses[i] - refLoss[i]) < 1e-4 * Math.max(1, Math.abs(refLoss[i])));
      assert.equal(store.hooks.length, 3 * points.length);
      for (const h of store.hooks) {
        const rows = store.readRows(h, 0, store.rows);
        const expected: number[] = [];
        for (let c = 0; c < N; c++) for (let t = 0; t < T - 1; t++) expected.push(...ref.hooks.get(h)![c][t]);
        let diff = 0, scale = 0;
        for (let i = 0; i < expected.length; i++) { diff = Math.max(diff, Math.abs(rows.x[i] - expected[i])); scale = Math.max(scale, Math.abs(expected[i])); }
        assert.ok(diff / scale < 1e-4, `${h}: ${diff / scale}`);
      }
    } finally {
      store.close();
    }
    // Text needs the folder's tokenizer.json.
    const text = path.join(tmp, "t.txt");
    fs.writeFileSync(text, Array.from({ length: 40 }, (_, i) => WORDS[(i * 7) % WORDS.length]).join(" ") + "\n");
    await assert.rejects(run(["--model", dir, "--text", text, "--out", out]), (e: unknown) => e instanceof InputError && /no tokenizer.json/.test(e.message));
    // With one (a tiny word-level tokenizer.json), contexts are drawn from the text and start with config.json's BOS.
    writeWordTokenizer(dir);
    const textOut = path.join(tmp, "text-stores");
    console.log = () => {}; console.error = () => {};
    assert.equal(await run(["--model", dir, "--text", text, "--contexts", "3", "--ctx", "6", "--skip", "1", "--layers", "0", "--out", textOut]), 0);
    console.log = log; console.error = err;
    const s2 = openActivationStore(path.join(textOut, fs.readdirSync(textOut)[0]));
    try {
      const t = s2.tokens();
      for (let c = 0; c < 3; c++) {
        assert.equal(t[c * 6], cfg.bos_token_id);
        for (let i = 1; i < 6; i++) assert.ok(t[c * 6 + i] >= 2 && t[c * 6 + i] < 2 + WORDS.length);
      }
    } finally {
      s2.close();
    }
  } finally {
    console.log = log; console.error = err;
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
