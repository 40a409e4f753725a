import { test } from "node:test";
import * as assert from "node:assert/strict";
import { pathRules, scrubPaths } from "../../src/publish/paths";

const rules = pathRules(["/data/x/saes", "/data/x/acts.npy", "/home/ann/proj/out"], { root: "/home/ann/proj", home: "/home/ann" });

test("paths under the project become relative, under home ~/…, the user's other inputs their names", () => {
  const text = `"/home/ann/proj/data/model.bin" in /home/ann/proj, /home/ann/other/f.txt; /data/x/saes/w_1/cfg.json and /data/x/acts.npy.`;
  assert.equal(scrubPaths(text, rules), `"data/model.bin" in ., ~/other/f.txt; saes/w_1/cfg.json and acts.npy.`);
});

test("a prefix matches only at a path boundary", () => {
  const text = "/home/ann/project2 /home/annie /data/x/saes2 /data/x/acts.npy.bak";
  assert.equal(scrubPaths(text, rules), "~/project2 /home/annie /data/x/saes2 /data/x/acts.npy.bak");
});
