// Cache entries: checksummed folders published atomically, and the lock that keeps two processes from computing
// the same entry at once (taken over when its owner died).
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { publishEntry, readEntry, tryLock } from "../../src/io/entry";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "dm-entry-"));

describe("cache entries", () => {
  it("publishes a folder whole with checksums; a second publisher keeps the first entry", () => {
    const dir = path.join(tmp(), "e");
    assert.equal(publishEntry(dir, { n: 1 }, (t) => fs.writeFileSync(path.join(t, "a.txt"), "one")), true);
    assert.equal(publishEntry(dir, { n: 2 }, (t) => fs.writeFileSync(path.join(t, "a.txt"), "two")), false);
    const e = readEntry<{ n: number }>(dir);
    assert.ok("manifest" in e && e.manifest.meta.n === 1);
    assert.equal(fs.readFileSync(path.join(dir, "a.txt"), "utf8"), "one");
    assert.deepEqual(fs.readdirSync(path.dirname(dir)), ["e"], "a temp folder was left");
    fs.writeFileSync(path.join(dir, "a.txt"), "onf");
    const bad = readEntry(dir);
    assert.ok("problem" in bad && /a\.txt does not match its recorded sha256/.test(bad.problem));
    assert.deepEqual(readEntry(path.join(dir, "..", "none")), { problem: "missing", missing: true });
  });

  it("a failing writer leaves no entry and no temp folder", () => {
    const dir = path.join(tmp(), "e");
    assert.throws(() => publishEntry(dir, {}, (t) => { fs.writeFileSync(path.join(t, "a"), "x"); throw new Error("ENOSPC"); }), /ENOSPC/);
    assert.deepEqual(fs.readdirSync(path.dirname(dir)), []);
  });

  it("a lock held by a live process is respected; one whose process died is taken over", () => {
    const file = path.join(tmp(), "x.lock");
    const mine = tryLock(file)!;
    assert.ok(mine);
    assert.equal(tryLock(file), null, "a second taker got a held lock");
    mine.release();
    assert.ok(!fs.existsSync(file));
    // A lock left by a process that no longer exists (a SIGKILLed kernel).
    const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
    fs.writeFileSync(file, JSON.stringify({ pid: Number(dead.stdout.trim()), host: os.hostname(), at: new Date().toISOString() }));
    const taken = tryLock(file);
    assert.ok(taken, "a dead process's lock was not taken over");
    taken.release();
    // A lock on another host is respected until it goes stale.
    fs.writeFileSync(file, JSON.stringify({ pid: 1, host: "elsewhere", at: new Date().toISOString() }));
    assert.equal(tryLock(file, { staleMs: 60_000 }), null);
    const old = new Date(Date.now() - 120_000);
    fs.utimesSync(file, old, old);
    const stale = tryLock(file, { staleMs: 60_000 });
    assert.ok(stale);
    stale.release();
  });

  it("two processes asking for the same analysis at once compute it once and read the same entry", { timeout: 120_000 }, async () => {
    const dir = tmp();
    const script = path.join(dir, "ask.ts");
    fs.writeFileSync(script, `
      import * as fs from "fs";
      import { cached } from ${JSON.stringify(path.resolve(__dirname, "../../src/pipeline/cache"))};
      cached("race", { k: 1 }, async () => {
        fs.appendFileSync(${JSON.stringify(path.join(dir, "computed"))}, process.pid + "\\n");
        await new Promise((r) => setTimeout(r, 1500));
        return { v: new Float64Array([Math.PI, process.pid]) };
      }, __filename).then((r) => console.log(JSON.stringify(Array.from(r.v))));
    `);
    const ask = () => new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, ["--import", "tsx", script], { env: { ...process.env, DARKMATTER_ANALYSIS_CACHE: path.join(dir, "cache") } });
      let out = "";
      p.stdout.on("data", (b) => { out += b; });
      p.on("exit", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`exit ${code}`))));
    });
    const [a, b] = await Promise.all([ask(), ask()]);
    assert.equal(fs.readFileSync(path.join(dir, "computed"), "utf8").trim().split("\n").length, 1, "computed twice");
    assert.equal(a, b);
    const entries = fs.readdirSync(path.join(dir, "cache", "race"));
    assert.equal(entries.length, 1, entries.join(", "));
  });
});
