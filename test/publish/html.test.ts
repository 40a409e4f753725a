import { test } from "node:test";
import * as assert from "node:assert/strict";
import { escapeHtml, plotHtml, scriptJson, tableHtml } from "../../src/viz/index";

test("escapeHtml escapes the five HTML metacharacters", () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
});

test("scriptJson cannot close a script or open a comment, and round-trips", () => {
  const value = { title: "</script><script>alert(1)</script> <!-- x -->", sep: "a\u2028b" };
  const s = scriptJson(value);
  assert.doesNotMatch(s, /<\/script|<!--|\u2028/i);
  assert.deepEqual(JSON.parse(s), value);
});

test("plotHtml embeds the figure safely and names the chart", () => {
  const html = plotHtml({ data: [{ x: [1], y: [2], type: "scatter", name: "</script>" }], layout: { title: { text: "a <b> c" } } }, { id: "p1" });
  assert.match(html, /id="p1"/);
  assert.match(html, /aria-label="a &lt;b&gt; c"/);
  assert.equal((html.match(/<\/script>/g) ?? []).length, 1);
});

test("tableHtml escapes every cell and header and formats numbers", () => {
  const html = tableHtml([{ "<h>": "<td>", v: 0.123456789 }, { "<h>": "x&y", v: 12 }], { digits: 3 });
  assert.match(html, /<th>&lt;h&gt;<\/th>/);
  assert.match(html, /&lt;td&gt;/);
  assert.match(html, /x&amp;y/);
  assert.match(html, />0\.123</);
  assert.match(html, />12</);
  assert.doesNotMatch(html, /<td><td>/);
});
