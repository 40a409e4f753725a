import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { claimRows, profile, recordHeadline } from "../../src/publish/headline";

test("claims become table rows with an explicit verdict", () => {
  const rows = claimRows([
    { claim: "a", measured: "0.5", holds: true },
    { claim: "b", measured: "0.1", holds: false },
    { claim: "c", measured: "n/a", holds: null },
  ]);
  assert.deepEqual(rows.map((r) => r["holds?"]), ["yes", "no", "undecided"]);
});

test("headlines are written only when the main job runs the notebook", () => {
  const saved = process.env.DARKMATTER_REPORTS;
  try {
    delete process.env.DARKMATTER_REPORTS;
    assert.equal(recordHeadline("nb", { x: 1 }), null);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-headline-"));
    process.env.DARKMATTER_REPORTS = dir;
    const file = recordHeadline("nb", { x: 1 }, [{ claim: "a", measured: "1", holds: true }]);
    assert.equal(file, path.join(dir, "headline", "nb.json"));
    assert.deepEqual(JSON.parse(fs.readFileSync(file!, "utf8")), { numbers: { x: 1 }, claims: [{ claim: "a", measured: "1", holds: true }] });
  } finally {
    if (saved === undefined) delete process.env.DARKMATTER_REPORTS; else process.env.DARKMATTER_REPORTS = saved;
  }
});

test("the profile is full by default and validated", () => {
  const saved = process.env.DARKMATTER_PROFILE;
  try {
    delete process.env.DARKMATTER_PROFILE;
    assert.equal(profile(), "full");
    process.env.DARKMATTER_PROFILE = "ci";
    assert.equal(profile(), "ci");
    process.env.DARKMATTER_PROFILE = "huge";
    assert.throws(() => profile(), /expected full, ci or paper/);
  } finally {
    if (saved === undefined) delete process.env.DARKMATTER_PROFILE; else process.env.DARKMATTER_PROFILE = saved;
  }
});
