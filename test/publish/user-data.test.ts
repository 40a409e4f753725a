// `darkmatter reproduce --sae-dir … --model …` parameters: a llama2.c model or a Hugging Face checkpoint folder (which
// brings its own tokenizer.json), checked before any notebook starts, each problem a clear error naming the input.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { initBackend } from "../../src/backend/index";
import { InputError } from "../../src/errors";
import { userParameters } from "../../src/publish/user-data";
import { Sae, saveSaeLens } from "../../src/sae/index";
import { writeTinyCheckpoint, writeWordTokenizer, WORDS } from "../lm/hf-fixtures";
import { normals } from "../helpers/random";

test("reproduce parameters take a Hugging Face checkpoint folder as --model, checked without reading its weights", async () => {
  await initBackend();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dm-user-hf-"));
  const d = 24, width = 48;
  const sae = new Sae({ architecture: "relu", d_in: d, d_sae: width, applyBDecToInput: false, weights: {
    W_enc: normals(d * width, 1), W_dec: normals(width * d, 2), b_enc: new Float32Array(width), b_dec: new Float32Array(d) } });
  saveSaeLens(sae, path.join(tmp, "saes", "one"));
  sae.dispose();
  const hf = path.join(tmp, "gemma");
  writeTinyCheckpoint(hf, { modelType: "gemma2", dtype: "bfloat16", shards: 2 });
  fs.writeFileSync(path.join(tmp, "t.txt"), WORDS.join(" ") + "\n");
  const ask = (over: Record<string, string | undefined>) => userParameters({ saeDir: "saes", model: "gemma", text: "t.txt", ...over }, tmp);
  const fails = (over: Record<string, string | undefined>, re: RegExp) =>
    assert.throws(() => ask(over), (e: unknown) => e instanceof InputError && re.test(e.message), `expected ${re}`);

  fails({}, /no tokenizer\.json/); // the folder must bring its tokenizer
  writeWordTokenizer(hf);
  const p = ask({});
  assert.equal(p.model, hf);
  assert.equal(p.tokenizer, null);
  assert.equal(p.text, path.join(tmp, "t.txt"));
  fails({ tokenizer: "t.txt" }, /not used with a Hugging Face checkpoint folder/);
  fails({ text: undefined }, /needs --text/);
  fs.mkdirSync(path.join(tmp, "empty"));
  fails({ model: "empty" }, /--model empty: is a folder without config\.json/);
  // A shard listed in the index but missing: named, before any notebook starts.
  const index = JSON.parse(fs.readFileSync(path.join(hf, "model.safetensors.index.json"), "utf8")) as { weight_map: Record<string, string> };
  const shard = Object.values(index.weight_map)[0];
  fs.rmSync(path.join(hf, shard));
  fails({}, new RegExp(`lists ${shard.replace(/[.]/g, "\\.")} .* does not exist`));
});
