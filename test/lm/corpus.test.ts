import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { InputError } from "../../src/errors";
import { HELD_OUT_EVERY, loadSotuCorpus, loadTextCorpus, makeCorpus, normaliseText, splitCorpus } from "../../src/lm/corpus";
import { TokenizedCorpus, documentContexts, mixSeed, sampleContexts, seededPermutation } from "../../src/lm/corpus-tokens";

describe("corpus", () => {
  it("normalises text: NFC, no control characters, single spaces", () => {
    assert.equal(normaliseText("  Fellow-Citizens\u0002 of the\n\nSenate\t and  House: cafe\u0301  "), "Fellow-Citizens of the Senate and House: caf\u00e9");
    assert.equal(normaliseText("\n \t"), "");
  });

  it("loads the State of the Union addresses and splits them deterministically by document", () => {
    const c = loadSotuCorpus();
    assert.equal(c.documents.length, 233);
    assert.equal(c.documents[0].id, "1790_george_washington_n");
    assert.equal(c.documents[232].id, "2021_joseph_r_biden_d");
    const chars = c.documents.reduce((s, d) => s + d.text.length, 0);
    assert.ok(chars > 10_500_000 && chars < 10_800_000, `${chars} characters`);
    for (const d of c.documents) assert.ok(!/\s{2}|[\u0000-\u001f]/.test(d.text), d.id);
    const { train, heldOut } = splitCorpus(c);
    assert.equal(train.length + heldOut.length, 233);
    assert.equal(heldOut.length, Math.floor(233 / HELD_OUT_EVERY)); // ≈5%
    assert.deepEqual(heldOut.map((d) => d.id), c.documents.filter((_, i) => i % 20 === 19).map((d) => d.id));
    assert.equal(new Set([...train, ...heldOut].map((d) => d.id)).size, 233);
    // The hash is the corpus's identity: recomputed from scratch it is the same; any change alters it.
    const again = makeCorpus(c.name, c.source, c.documents);
    assert.equal(again.hash, c.hash);
    const changed = makeCorpus(c.name, c.source, c.documents.map((d, i) => (i === 100 ? { ...d, text: d.text + "." } : d)));
    assert.notEqual(changed.hash, c.hash);
  });

  it("reads text files, split at <|endoftext|> lines or else at blank lines", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-corpus-"));
    try {
      const a = path.join(dir, "stories.txt");
      fs.writeFileSync(a, "Once upon\na time.\n<|endoftext|>\n\nThe end\n\nof it.\n<|endoftext|>\n");
      assert.deepEqual(loadTextCorpus(a).documents.map((d) => d.text), ["Once upon a time.", "The end of it."]);
      const b = path.join(dir, "paras.txt");
      fs.writeFileSync(b, "Call me\nIshmael.\n\n\nSome years ago.\r\n\r\nNever mind.");
      assert.deepEqual(loadTextCorpus(b).documents.map((d) => d.text), ["Call me Ishmael.", "Some years ago.", "Never mind."]);
      fs.writeFileSync(path.join(dir, "latin1.txt"), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
      assert.throws(() => loadTextCorpus(path.join(dir, "latin1.txt")), (e: unknown) => e instanceof InputError && /not valid UTF-8/.test(e.message));
      fs.writeFileSync(path.join(dir, "empty.txt"), "\n\n");
      assert.throws(() => loadTextCorpus(path.join(dir, "empty.txt")), (e: unknown) => e instanceof InputError && /holds no text/.test(e.message));
      assert.throws(() => loadTextCorpus(path.join(dir, "missing.txt")), (e: unknown) => e instanceof InputError && /missing\.txt: cannot read/.test(e.message));
      assert.throws(() => makeCorpus("x", "y", [{ id: "a", text: "1" }, { id: "a", text: "2" }]), /share the id 'a'/);
      assert.throws(() => splitCorpus(loadTextCorpus(a), 1), InputError);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

function fakeTokenized(lengths: number[]): TokenizedCorpus {
  const offsets = new Int32Array(lengths.length + 1);
  lengths.forEach((n, i) => (offsets[i + 1] = offsets[i] + n));
  // Token value = 1000·document + position + 3, so a window's origin can be read off its tokens.
  const tokens = new Int32Array(offsets[lengths.length]);
  lengths.forEach((n, d) => { for (let p = 0; p < n; p++) tokens[offsets[d] + p] = 1000 * d + p + 3; });
  return { docIds: lengths.map((_, i) => `d${i}`), tokens, offsets };
}

describe("contexts", () => {
  const corpus = fakeTokenized([50, 9, 31, 20]);

  it("store rule: BOS + one non-overlapping window of one document, seeded shuffle, prefix-stable", () => {
    const ctx = documentContexts(corpus, 7, 11, 5); // windows of 10: 5 + 0 + 3 + 2 = 10 available
    assert.equal(ctx.tokens.length, 7 * 11);
    const seen = new Set<string>();
    for (let i = 0; i < 7; i++) {
      const row = ctx.tokens.subarray(i * 11, (i + 1) * 11);
      assert.equal(row[0], 1);
      const d = Math.floor((row[1] - 3) / 1000), p = (row[1] - 3) % 1000;
      assert.equal(d, ctx.doc[i]);
      assert.equal(p, ctx.start[i]);
      assert.equal(p % 10, 0, "windows start at multiples of the window length");
      for (let j = 1; j < 11; j++) assert.equal(row[j], 1000 * d + p + j - 1 + 3, "consecutive tokens of one document");
      seen.add(`${d}:${p}`);
    }
    assert.equal(seen.size, 7, "no window twice");
    assert.notEqual(ctx.doc[1], 1, "the 9-token document has no full window");
    const more = documentContexts(corpus, 10, 11, 5);
    assert.deepEqual(more.tokens.subarray(0, 77), ctx.tokens);
    assert.notDeepEqual(documentContexts(corpus, 7, 11, 6).tokens, ctx.tokens);
    assert.throws(() => documentContexts(corpus, 11, 11, 5), (e: unknown) => e instanceof InputError && /only 10 windows/.test(e.message));
  });

  it("training rule: windows drawn from (seed, step) alone, inside one document", () => {
    const a = sampleContexts(corpus, 40, 12, 9, 3);
    assert.deepEqual(sampleContexts(corpus, 40, 12, 9, 3), a);
    assert.notDeepEqual(sampleContexts(corpus, 40, 12, 9, 4), a);
    const docsSeen = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const row = a.subarray(i * 12, (i + 1) * 12);
      assert.equal(row[0], 1);
      const d = Math.floor((row[1] - 3) / 1000);
      docsSeen.add(d);
      for (let j = 2; j < 12; j++) assert.equal(row[j], row[j - 1] + 1);
    }
    assert.ok(!docsSeen.has(1), "documents shorter than the window are never used");
    assert.ok(docsSeen.has(0) && docsSeen.has(2));
  });

  it("seeded helpers are deterministic permutations", () => {
    const p = seededPermutation(100, 1);
    assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
    assert.deepEqual(seededPermutation(100, 1), p);
    assert.notEqual(mixSeed(1, 2), mixSeed(2, 1));
  });
});
