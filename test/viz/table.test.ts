// Tables of row records render without danfo (its import costs ~1 s in a notebook) and exactly as through a DataFrame.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { tableHtml, toDataFrame, type Row } from "../../src/viz/table";

const danfoLoaded = () => Object.keys(require.cache).some((f) => f.includes(`${"node_modules"}/danfojs-node/`));

test("tableHtml draws row records directly, the same as through a DataFrame", () => {
  const rows: Row[] = [{ a: 1, b: "x<y", c: 0.000123456, d: true }, { a: 2.5, b: "z", e: null }, { a: NaN, b: "", c: 1234567.8 }];
  const direct = tableHtml(rows, { caption: "c & d" });
  assert.equal(danfoLoaded(), false, "row records loaded danfo");
  assert.match(direct, /<th>a<\/th><th>b<\/th><th>c<\/th><th>d<\/th><th>e<\/th>/);
  assert.match(direct, /x&lt;y/);
  assert.equal(direct, tableHtml(toDataFrame(rows), { caption: "c & d" }));
  assert.equal(danfoLoaded(), true);
});
