// Fault injection: a process SIGKILLed while it publishes a store chunk, a trained SAE or a cached decomposition,
// then run again, ends exactly where an uninterrupted run does; a full disk (a mocked ENOSPC) during a store build
// or a cache write ends with a clear error and leaves nothing a later run would trust.
import { before, describe, it, mock } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildActivationStore } from "../../src/activations/index";
import { initBackend } from "../../src/backend/index";
import { DmWarning, onWarning } from "../../src/warnings";
import { STORE_CONFIG, storeInputs } from "./child";

const child = path.join(__dirname, "child.ts");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "dm-faults-"));

/** Runs the child; `kill` = "<pattern>:<n>" makes it SIGKILL itself at the n-th matching rename. */
function runChild(mode: string, out: string, opts: { kill?: string; cache?: string } = {}): { signal: NodeJS.Signals | null; status: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, DARKMATTER_ANALYSIS_CACHE: opts.cache ?? path.join(out, "cache") };
  if (opts.kill) env.DM_KILL_AT = opts.kill;
  else delete env.DM_KILL_AT;
  const r = spawnSync(process.execPath, ["--import", "tsx", child, mode, out], { encoding: "utf8", env, timeout: 300_000 });
  return { signal: r.signal, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under `dir` with its bytes, except the records that hold times (manifests, training logs, summaries). */
function files(dir: string, skip = /manifest\.json$|training-log\.json$|train-config\.json$|summary\.(json|md)$|\.lock$/): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const run = path.basename(path.dirname(dir)) === "killed" ? path.dirname(dir) : null;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      // The run's own folder (recorded in an SAE's provenance) is the one difference allowed.
      else if (!skip.test(e.name)) out.set(path.relative(dir, p), run && e.name.endsWith(".json") ? Buffer.from(fs.readFileSync(p, "utf8").split(run).join(path.join(path.dirname(run), "whole"))) : fs.readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

const tempFiles = (dir: string) => [...files(dir, /^$/).keys()].filter((f) => /\.tmp$|\.tmp\//.test(f) || path.basename(f).startsWith("."));

describe("fault injection", () => {
  before(() => initBackend());

  it("SIGKILL in the middle of a store chunk, then a rerun: the store equals an uninterrupted build", () => {
    const whole = path.join(work, "store-whole"), broken = path.join(work, "store-killed");
    assert.equal(runChild("store", whole).status, 0);
    const killed = runChild("store", broken, { kill: "chunk-00002:2" });
    assert.equal(killed.signal, "SIGKILL", killed.stderr);
    const [key] = fs.readdirSync(broken).filter((n) => !n.endsWith(".lock"));
    const manifest = JSON.parse(fs.readFileSync(path.join(broken, key, "manifest.json"), "utf8"));
    assert.deepEqual(manifest.finished, [0, 1], "the killed chunk is not listed as finished");
    const rerun = runChild("store", broken);
    assert.equal(rerun.status, 0, rerun.stderr);
    assert.deepEqual(files(path.join(broken, key)), files(path.join(whole, key)));
    assert.deepEqual(tempFiles(broken), [], "temp files of the killed writer remain");
  });

  it("SIGKILL while a family saves its second SAE, then a rerun: every SAE equals an uninterrupted run's, bit for bit", () => {
    const whole = path.join(work, "family", "whole"), broken = path.join(work, "family", "killed");
    const w = runChild("family", whole);
    assert.equal(w.status, 0, w.stderr);
    const killed = runChild("family", broken, { kill: "width_48:1" });
    assert.equal(killed.signal, "SIGKILL", killed.stderr);
    assert.ok(!fs.existsSync(path.join(broken, "family", "layer_0", "width_48", "average_l0_4", "train-config.json")));
    const rerun = runChild("family", broken);
    assert.equal(rerun.status, 0, rerun.stderr);
    const summary = JSON.parse(fs.readFileSync(path.join(broken, "family", "summary.json"), "utf8"));
    assert.deepEqual(summary.entries.map((e: { reused: boolean }) => e.reused), [true, false], "the finished SAE was retrained");
    assert.deepEqual(files(path.join(broken, "family")), files(path.join(whole, "family")));
    assert.deepEqual(tempFiles(path.join(broken, "family")), []);
  });

  it("SIGKILL while a decomposition is published to the cache, then a rerun: the results equal an uninterrupted run", () => {
    const whole = path.join(work, "dec-whole"), broken = path.join(work, "dec-killed");
    const w = runChild("decomposition", whole);
    assert.equal(w.status, 0, w.stderr);
    const killed = runChild("decomposition", broken, { kill: "decomposition/.:2" });
    assert.equal(killed.signal, "SIGKILL", killed.stderr);
    const entries = () => fs.readdirSync(path.join(broken, "cache", "decomposition")).filter((n) => !n.startsWith(".") && !n.endsWith(".lock"));
    assert.equal(entries().length, 1, "only the first decomposition was published");
    const rerun = runChild("decomposition", broken);
    assert.equal(rerun.status, 0, rerun.stderr);
    assert.equal(rerun.stdout, w.stdout);
    assert.equal(entries().length, 2);
    assert.deepEqual(tempFiles(path.join(broken, "cache")), []);
    assert.equal(rerun.stderr, "", "a warning was printed: the cache was damaged");
  });

  it("a full disk during a store build ends with a clear error; the next run finishes the same store", () => {
    const root = path.join(work, "store-enospc");
    const realFs = require("fs") as typeof fs;
    const write = realFs.writeSync;
    let calls = 0;
    const full = mock.method(realFs, "writeSync", (...args: unknown[]) => {
      // Let the first chunks through, then fail part-way into a chunk file.
      if (++calls > 14) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      return (write as (...a: unknown[]) => number)(...args);
    });
    try {
      assert.throws(() => buildActivationStore(storeInputs(), { root, config: STORE_CONFIG }),
        (e: Error) => /disk is full \(ENOSPC\)/.test(e.message) && e.message.includes(root));
    } finally {
      full.mock.restore();
    }
    const [key] = fs.readdirSync(root).filter((n) => !n.endsWith(".lock"));
    assert.deepEqual(fs.readdirSync(root).filter((n) => n.endsWith(".lock")), [], "the lock was not released");
    const manifest = JSON.parse(fs.readFileSync(path.join(root, key, "manifest.json"), "utf8"));
    assert.equal(manifest.complete, false);
    assert.ok(manifest.finished.length < 4);
    assert.deepEqual(tempFiles(path.join(root, key)), [], "a half-written temp file remains");
    const done = buildActivationStore(storeInputs(), { root, config: STORE_CONFIG });
    done.store!.close();
    assert.equal(done.chunksBuilt, 4 - manifest.finished.length);
    assert.deepEqual(files(path.join(root, key)), files(path.join(work, "store-whole", key)));
  });
});

describe("damaged cache entries", () => {
  before(() => initBackend());

  it("a store with any one file damaged is reported naming it and rebuilt to the same bytes", () => {
    const whole = path.join(work, "store-whole");
    const [key] = fs.readdirSync(whole).filter((n) => !n.endsWith(".lock"));
    for (const file of ["tokens.npy", "losses/chunk-00001.npy", "acts/blocks.1.hook_mlp_out/chunk-00003.npy"]) {
      const root = path.join(work, `store-damaged-${path.basename(file)}`);
      fs.cpSync(whole, root, { recursive: true });
      const p = path.join(root, key, file);
      const b = fs.readFileSync(p);
      b[b.length - 3] ^= 0x40;
      fs.writeFileSync(p, b);
      const warnings: DmWarning[] = [];
      const stop = onWarning((w) => warnings.push(w));
      let built;
      try { built = buildActivationStore(storeInputs(), { root, config: STORE_CONFIG }); } finally { stop(); }
      built.store!.close();
      assert.equal(built.reused, false, `${file}: the damaged store was reused`);
      assert.equal(warnings.length, 1, `${file}: ${warnings.map((w) => w.problem).join("; ")}`);
      assert.ok(warnings[0].problem.includes(path.basename(file)) || warnings[0].problem.includes("tokens.npy"), warnings[0].problem);
      assert.deepEqual(files(path.join(root, key)), files(path.join(whole, key)));
    }
  });

  it("a family SAE with a damaged weights file is reported and retrained to the same bits", async () => {
    const whole = path.join(work, "family", "whole");
    const root = path.join(work, "family", "killed"); // a finished family from the SIGKILL test
    const weights = path.join(root, "family", "layer_0", "width_32", "average_l0_4", "sae_weights.safetensors");
    fs.truncateSync(weights, fs.statSync(weights).size - 100);
    const r = runChild("family", root);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: trained SAE .*width_32.*sae_weights\.safetensors has \d+ bytes.*retraining it/);
    const summary = JSON.parse(fs.readFileSync(path.join(root, "family", "summary.json"), "utf8"));
    assert.deepEqual(summary.entries.map((e: { reused: boolean }) => e.reused), [false, true]);
    assert.deepEqual(files(path.join(root, "family")), files(path.join(whole, "family")));
  });
});
