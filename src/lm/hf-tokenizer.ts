// tokenizer.json (+ tokenizer_config.json) of a Hugging Face checkpoint through @huggingface/tokenizers, behind the
// same interface as the llama2.c tokenizer (TextTokenizer), with the model's BOS: encode() never lets the library's
// post-processor add special tokens and prepends the BOS id itself when asked, so `bos: false` is exactly the text.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Tokenizer as HfTokenizerImpl } from "@huggingface/tokenizers";
import { InputError } from "../errors";
import type { EncodeOptions, TextTokenizer } from "./tokenizer";

export const HF_TOKENIZER_FILE = "tokenizer.json";
export const HF_TOKENIZER_CONFIG_FILE = "tokenizer_config.json";

/** GPT-2's byte ↔ printable-character table of byte-level BPE (Llama 3): char code → byte. */
function byteLevelDecoder(): Map<number, number> {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = [...bytes];
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bytes.includes(b)) { bytes.push(b); chars.push(256 + n++); }
  return new Map(chars.map((c, i) => [c, bytes[i]]));
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

export class HfTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  private readonly impl: HfTokenizerImpl;
  private readonly byteLevel: boolean;
  private readonly special: Set<number>;
  private readonly hash: string;
  private static byteTable: Map<number, number> | null = null;

  constructor(readonly file: string, json: Record<string, unknown>, config: Record<string, unknown>, bosId: number | null, rawBytes: Uint8Array) {
    try {
      this.impl = new HfTokenizerImpl(json, config);
    } catch (e) {
      throw new InputError(file, `is not a tokenizer the library can load: ${(e as Error).message}`);
    }
    const vocab = this.impl.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.special = new Set(this.impl.get_added_tokens_decoder().keys());
    const tokenId = (v: unknown) => {
      const content = typeof v === "string" ? v : v && typeof v === "object" ? (v as { content?: unknown }).content : undefined;
      return typeof content === "string" ? this.impl.token_to_id(content) ?? null : null;
    };
    this.bosId = bosId ?? tokenId(config.bos_token);
    this.eosId = tokenId(config.eos_token);
    const decoder = json.decoder as { type?: string } | null | undefined;
    this.byteLevel = decoder?.type === "ByteLevel";
    this.hash = createHash("sha256").update(rawBytes).update(`bos ${this.bosId}`).digest("hex");
  }

  /** sha256 of tokenizer.json and the BOS id: the tokenizer's identity in store keys. */
  fingerprint(): string { return this.hash; }

  encode(text: string, options: EncodeOptions = {}): Int32Array {
    const ids = this.impl.encode(text, { add_special_tokens: false }).ids;
    const bos = (options.bos ?? true) && this.bosId !== null, eos = (options.eos ?? false) && this.eosId !== null;
    const out = new Int32Array(ids.length + (bos ? 1 : 0) + (eos ? 1 : 0));
    if (bos) out[0] = this.bosId!;
    out.set(ids, bos ? 1 : 0);
    if (eos) out[out.length - 1] = this.eosId!;
    return out;
  }

  /** Text of the tokens, special tokens dropped. */
  decode(tokens: ArrayLike<number>): string {
    return this.impl.decode(Array.from(tokens), { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  }

  /** The token as the vocabulary writes it (e.g. "Ġthe", "▁the", "<bos>"). */
  piece(token: number): string {
    const p = this.impl.id_to_token(this.check(token));
    return p ?? `#${token}`;
  }

  /** The bytes the token stands for in the text (special tokens: their own text). */
  decodePiece(_prev: number, token: number): Uint8Array {
    const p = this.piece(token);
    if (this.special.has(token)) return new Uint8Array(Buffer.from(p, "utf8"));
    if (this.byteLevel) {
      const table = (HfTokenizer.byteTable ??= byteLevelDecoder());
      return Uint8Array.from([...p].map((ch) => table.get(ch.codePointAt(0)!) ?? 0x3f));
    }
    const m = BYTE_TOKEN.exec(p);
    if (m) return Uint8Array.of(parseInt(m[1], 16));
    return new Uint8Array(Buffer.from(p.replace(/\u2581/g, " "), "utf8"));
  }

  private check(t: number): number {
    if (!Number.isInteger(t) || t < 0 || t >= this.vocabSize) throw new InputError("tokens", `token ${t} is outside the vocabulary [0, ${this.vocabSize})`);
    return t;
  }
}

/**
 * The tokenizer of a checkpoint folder: tokenizer.json (required) and tokenizer_config.json (optional). `bosId` is the
 * model's BOS (config.json's bos_token_id); without it, tokenizer_config.json's bos_token is used.
 */
export function loadHfTokenizer(dir: string, bosId: number | null = null): HfTokenizer {
  const file = path.join(dir, HF_TOKENIZER_FILE);
  if (!fs.existsSync(file)) throw new InputError(dir, `has no ${HF_TOKENIZER_FILE} (the tokenizer is needed to turn text into tokens; pass token ids with --tokens instead)`);
  const raw = fs.readFileSync(file);
  const parse = (bytes: Buffer, f: string): Record<string, unknown> => {
    try {
      const v = JSON.parse(bytes.toString("utf8"));
      if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
      return v;
    } catch (e) {
      throw new InputError(f, `is not valid JSON: ${(e as Error).message}`);
    }
  };
  const json = parse(raw, file);
  if (!json.model || typeof json.model !== "object") throw new InputError(file, "has no \"model\" section; not a tokenizers tokenizer.json");
  const cfgFile = path.join(dir, HF_TOKENIZER_CONFIG_FILE);
  const config = fs.existsSync(cfgFile) ? parse(fs.readFileSync(cfgFile), cfgFile) : {};
  return new HfTokenizer(file, json, config, bosId, raw);
}
