import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { buildActivationStore, type StoreConfig } from "../../src/activations/index";
import { initBackend } from "../../src/backend/index";
import { inspectPath } from "../../src/cli/inspect";
import { InputError } from "../../src/errors";
import { tiny } from "./tiny";

const CONFIG: StoreConfig = { hooks: ["blocks.1.hook_resid_post"], contexts: 4, ctx: 16, skip: 3, seed: 1, corpusPart: "all", contextsPerChunk: 2 };
let root: string;
before(async () => {
  await initBackend();
  root = fs.mkdtempSync(path.join(os.tmpdir(), "dm-store-inspect-"));
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

test("inspect recognises an activation store and describes it; a broken manifest is an InputError", () => {
  const t = tiny();
  const { dir } = buildActivationStore({ weights: t.weights, tokenizer: t.tokenizer, corpus: t.corpus }, { root, config: CONFIG });
  const info = inspectPath(dir);
  assert.equal(info.kind, "activation-store");
  assert.deepEqual(info.hooks, CONFIG.hooks);
  assert.equal(info.rows, 4 * (16 - 1 - 3));
  assert.equal(info.complete, true);
  assert.equal(info.chunks, "2/2 finished");
  const manifest = path.join(dir, "manifest.json");
  const m = JSON.parse(fs.readFileSync(manifest, "utf8"));
  m.rows = "many";
  fs.writeFileSync(manifest, JSON.stringify(m));
  assert.throws(() => inspectPath(dir), (e: unknown) => e instanceof InputError && e.message.includes("manifest.json"));
});
