// Trains a SentencePiece-style BPE vocabulary (characters with byte fallback) whose llama2.c `tokenizer.bin`
// encoding reproduces the training segmentation. The layout follows llama2.c's export of SentencePiece models:
//   0 <unk>, 1 BOS, 2 EOS (score 0) · 3…258 the byte tokens <0x00>…<0xFF> (score 0)
//   · merged pieces in merge order with scores 0, −1, −2, … · the single characters, most frequent first, with
//   scores continuing below the last merge.
// llama2.c's encoder prepends a space, maps each character to its token (bytes of characters outside the vocabulary
// fall back to <0xXX>) and repeatedly merges the adjacent pair whose concatenated string has the highest score, so
// "merge order = score order" makes it apply the merges in the order they were learned. Pieces never contain a space
// except as their first character (words are " word" chunks), so merges never cross a word boundary.
import { InputError } from "../errors";
import type { Progress } from "../progress";

export interface BpeOptions {
  /** Total vocabulary size including the 3 special and 256 byte tokens (512…32768). */
  vocabSize: number;
  /** Characters seen fewer times than this are left to byte fallback and never merged (default 10). */
  minCharCount?: number;
  /** Pairs seen fewer times than this are not merged; training stops early when none is left (default 2). */
  minPairCount?: number;
}

export interface BpeVocab {
  /** Token strings, index = token id (byte tokens are the literal strings "<0xXX>", BOS "\n<s>\n", EOS "\n</s>\n"). */
  pieces: string[];
  /** Merge scores (llama2.c `tokenizer.bin` scores), same length as `pieces`. */
  scores: Float32Array;
  /** How many merged pieces and single characters the vocabulary holds. */
  merges: number;
  chars: number;
}

export const FIRST_LEARNED_ID = 259;
export const SPECIAL_PIECES = ["<unk>", "\n<s>\n", "\n</s>\n"] as const;

/** The byte-token string for byte b, as llama2.c writes it. */
export function bytePiece(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
}

/** The " word" chunks of a normalised text after llama2.c's dummy-prefix space, with their counts. */
export function countWordChunks(texts: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) {
    if (text.length === 0) continue;
    // A space followed by a non-space run; normalised text has single spaces, other text may yield bare " ".
    for (const m of (" " + text).matchAll(/ [^ ]*|[^ ]+/g)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  }
  return counts;
}

function pairKey(a: number, b: number): number {
  return a * 65536 + b;
}

/**
 * Learns a vocabulary from texts (already normalised). Deterministic: ties between equally frequent pairs go to
 * the pair with the smaller (left id, right id), ids numbered in order of first appearance.
 */
export function trainBpe(texts: Iterable<string>, options: BpeOptions, progress?: Progress): BpeVocab {
  const { vocabSize } = options;
  const minCharCount = options.minCharCount ?? 10;
  const minPairCount = options.minPairCount ?? 2;
  if (!Number.isInteger(vocabSize) || vocabSize < 512 || vocabSize > 32768) {
    throw new InputError("vocabSize", `must be an integer in 512…32768, got ${vocabSize}`);
  }
  if (!Number.isInteger(minCharCount) || minCharCount < 1) throw new InputError("minCharCount", `must be an integer ≥ 1, got ${minCharCount}`);
  if (!Number.isInteger(minPairCount) || minPairCount < 1) throw new InputError("minPairCount", `must be an integer ≥ 1, got ${minPairCount}`);

  const chunks = countWordChunks(texts);
  // Characters (code points), most frequent first; ties in code-point order.
  const charCounts = new Map<string, number>();
  for (const [w, n] of chunks) for (const c of w) charCounts.set(c, (charCounts.get(c) ?? 0) + n);
  const budget = vocabSize - FIRST_LEARNED_ID;
  const chars = [...charCounts].filter(([, n]) => n >= minCharCount)
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    .slice(0, budget).map(([c]) => c);

  // Internal symbol ids: characters 0…C−1, then merged pieces in order. Words are split at characters outside the
  // vocabulary (they become byte tokens, which never merge), so each segment is a run of known characters.
  const strings: string[] = [...chars];
  const idOf = new Map<string, number>(chars.map((c, i) => [c, i]));
  const words: Int32Array[] = [];
  const freq: number[] = [];
  for (const [w, n] of chunks) {
    let seg: number[] = [];
    const flush = () => { if (seg.length > 1) { words.push(Int32Array.from(seg)); freq.push(n); } seg = []; };
    for (const c of w) {
      const id = idOf.get(c);
      if (id === undefined) flush();
      else seg.push(id);
    }
    flush();
  }
  const lens = words.map((w) => w.length);

  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const addPairs = (wi: number, sign: number) => {
    const w = words[wi], n = lens[wi], f = freq[wi] * sign;
    for (let i = 0; i + 1 < n; i++) {
      const k = pairKey(w[i], w[i + 1]);
      const c = (pairCount.get(k) ?? 0) + f;
      if (c === 0) pairCount.delete(k); else pairCount.set(k, c);
      if (sign > 0) {
        let s = where.get(k);
        if (!s) where.set(k, (s = new Set()));
        s.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1);

  const mergeIds: number[] = []; // internal ids of the merged pieces, in merge order
  const maxMerges = budget - chars.length;
  while (mergeIds.length < maxMerges) {
    let bestKey = -1, bestCount = 0;
    for (const [k, c] of pairCount) if (c > bestCount || (c === bestCount && k < bestKey)) { bestKey = k; bestCount = c; }
    if (bestKey < 0 || bestCount < minPairCount) break;
    const a = Math.floor(bestKey / 65536), b = bestKey % 65536;
    const merged = strings[a] + strings[b];
    // The same string can arise from two different pairs; llama2.c looks merges up by string, so reuse the piece.
    let z = idOf.get(merged);
    if (z === undefined) {
      z = strings.length;
      if (z >= 65536) break;
      strings.push(merged);
      idOf.set(merged, z);
      mergeIds.push(z);
    }
    const touched = where.get(bestKey)!;
    where.delete(bestKey);
    for (const wi of touched) {
      const w = words[wi];
      let n = lens[wi], has = false;
      for (let i = 0; i + 1 < n; i++) if (w[i] === a && w[i + 1] === b) { has = true; break; }
      if (!has) continue; // stale entry: an earlier merge removed the pair from this word
      addPairs(wi, -1);
      let o = 0;
      for (let i = 0; i < n; i++) {
        if (i + 1 < n && w[i] === a && w[i + 1] === b) { w[o++] = z; i++; } else w[o++] = w[i];
      }
      lens[wi] = n = o;
      addPairs(wi, 1);
    }
    progress?.(mergeIds.length, maxMerges, "bpe merges");
  }

  const pieces: string[] = [...SPECIAL_PIECES];
  for (let b = 0; b < 256; b++) pieces.push(bytePiece(b));
  const scores: number[] = new Array(FIRST_LEARNED_ID).fill(0);
  mergeIds.forEach((id, k) => { pieces.push(strings[id]); scores.push(-k); });
  chars.forEach((c, k) => { pieces.push(c); scores.push(-(mergeIds.length + k)); });
  progress?.(maxMerges, maxMerges, "bpe merges");
  return { pieces, scores: Float32Array.from(scores), merges: mergeIds.length, chars: chars.length };
}
