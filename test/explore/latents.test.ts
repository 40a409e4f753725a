// Latent pages: a card's top contexts equal a brute-force scan of the store; counts, histogram and bands agree with
// the same scan; the statistics are cached per (SAE, store); the HTML shades tokens and links latents to cards.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as util from "util";
import { ActivationTable } from "../../src/activations/table";
import { tf } from "../../src/backend/index";
import { latentPages } from "../../src/explore/index";
import { toTensors } from "../../src/lm/model";
import { saveSaeLens } from "../../src/sae/index";
import { latentCardHtml, latentsOnHtml } from "../../src/viz/latent-card";
import { htmlOf } from "../../src/viz/show";
import { tiny } from "../activations/tiny";
import { HOOKS, randomSae, tinyStore } from "../family/store";

test("a latent card's top contexts equal a brute-force scan of the store, and the page is cached", async () => {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-latent-cache-"));
  process.env.DARKMATTER_ANALYSIS_CACHE = cacheDir;
  const ts = await tinyStore();
  try {
    const store = ts.store, hook = HOOKS[1];
    const sae = randomSae(store.d, 48, 16, 11, { hookName: hook, layer: 1 });
    const t = tiny();
    const model = { params: toTensors(t.weights), tokenizer: t.tokenizer };
    const topK = 7;
    const pages = await latentPages(sae, store, { model, topK });

    // Brute force: every row's dense latents, straight from the encoder on the whole store at once.
    const all = store.readRows(hook, 0, store.rows);
    const f = tf.tidy(() => sae.encodeDense(tf.tensor2d(all.x, [store.rows, store.d])));
    const dense = f.dataSync() as Float32Array;
    f.dispose();
    let checked = 0;
    for (let j = 0; j < sae.d_sae; j++) {
      const acts = Array.from({ length: store.rows }, (_, r) => ({ r, v: dense[r * sae.d_sae + j] })).filter((a) => a.v > 0);
      const card = pages.card(j);
      assert.equal(card.count, acts.length, `latent ${j}: active count`);
      assert.equal(card.histogram.counts.reduce((a, b) => a + b, 0), acts.length);
      acts.sort((a, b) => b.v - a.v || a.r - b.r);
      const want = acts.slice(0, topK);
      assert.equal(card.top.length, want.length);
      card.top.forEach((w, i) => {
        assert.ok(Math.abs(w.activation - want[i].v) <= 1e-4 * Math.max(1, want[i].v), `latent ${j}, context ${i}: ${w.activation} vs ${want[i].v}`);
        // Rows agree except where two activations tie within float32 rounding.
        if (w.row !== want[i].r) assert.ok(Math.abs(dense[w.row * sae.d_sae + j] - want[i].v) <= 1e-4, `latent ${j}, context ${i}: row ${w.row} vs ${want[i].r}`);
        const info = store.rowInfo(w.row, 1);
        assert.equal(w.context, info.context[0]);
        assert.equal(w.position, info.position[0]);
        assert.equal(w.tokens[w.focus].text, t.tokenizer.piece(info.token[0]));
        assert.ok(Math.abs((w.tokens[w.focus].activation ?? -1) - w.activation) <= 1e-4, "the focus token carries the activation");
      });
      for (const b of card.bands) for (const s of b.samples) assert.ok(s.activation > b.lo - 1e-6 && s.activation <= b.hi + 1e-6);
      if (acts.length) checked++;
    }
    assert.ok(checked > 10, `only ${checked} latents were ever active`);
    const j = pages.stats.topRows[0] >= 0 ? 0 : 1;
    const card = pages.card(j);
    assert.equal(card.promoted!.up.length, 10);
    const html = latentCardHtml(card);
    assert.match(html, /rgba\(255,140,0,1\.000\)/, "the top token is shaded fully");
    assert.match(html, /<svg/);
    assert.throws(() => pages.card(48), /outside/);

    // The latents on one token, each linking to its card.
    const table = ActivationTable.fromStore(store, hook, 0, 20, t.tokenizer);
    const on = pages.latentsOn(table, 3, 4);
    assert.ok(on.length >= 1 && on.length <= 4);
    for (let i = 1; i < on.length; i++) assert.ok(on[i - 1].activation >= on[i].activation);
    const onHtml = latentsOnHtml(pages, table, 3, 4);
    for (const l of on) assert.match(onHtml, new RegExp(`href="#[^"]+-${l.latent}"`));
    assert.deepEqual(pages.latentsOn(3, 0, 4).map((l) => l.latent), on.map((l) => l.latent), "a store row gives the same latents");

    // Cached: a second call reads the statistics back (identical), also for the SAE saved to a folder.
    const entries = () => fs.readdirSync(path.join(cacheDir, "latent-stats")).filter((f) => fs.existsSync(path.join(cacheDir, "latent-stats", f, "entry.json")));
    assert.equal(entries().length, 1, "one cache entry");
    const dir = path.join(cacheDir, "sae");
    saveSaeLens(sae, dir);
    const again = await latentPages({ path: dir }, store, { topK });
    assert.deepEqual(again.stats.topRows, pages.stats.topRows);
    assert.equal(entries().length, 1, "the saved SAE hits the same entry");
    assert.ok(util.inspect(pages).split("\n").length <= 5);
    assert.match(htmlOf(pages), /densest/);
  } finally {
    ts.cleanup();
    delete process.env.DARKMATTER_ANALYSIS_CACHE;
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
});
