// How an SAE too wide for memory is run in latent blocks: the memory budget for weights in flight (default 2 GiB,
// DARKMATTER_WEIGHT_BUDGET_MB or an explicit option), the block planner that sizes latent blocks and token chunks to
// fit it, and the allocator that holds every large buffer of the blocked forward to that budget.
import { InputError } from "../errors";

export const DEFAULT_WEIGHT_BUDGET = 2 * 1024 ** 3;
export const WEIGHT_BUDGET_ENV = "DARKMATTER_WEIGHT_BUDGET_MB";
/** Token rows per chunk the planner aims for: large enough that one sweep of the weights serves many rows. */
const TARGET_CHUNK_ROWS = 4096;

/** The budget in bytes: the explicit value, else DARKMATTER_WEIGHT_BUDGET_MB, else 2 GiB. */
export function weightBudgetBytes(explicit?: number): number {
  if (explicit !== undefined) {
    if (!(explicit > 0) || !Number.isFinite(explicit)) throw new InputError("weight budget", `must be a positive number of bytes, got ${explicit}`);
    return Math.floor(explicit);
  }
  const env = process.env[WEIGHT_BUDGET_ENV];
  if (env !== undefined && env !== "") {
    const mb = Number(env);
    if (!(mb > 0) || !Number.isFinite(mb)) throw new InputError(WEIGHT_BUDGET_ENV, `must be a positive number of MiB, got "${env}"`);
    return Math.floor(mb * 1024 ** 2);
  }
  return DEFAULT_WEIGHT_BUDGET;
}

/** Bytes of all the SAE's float32 weights (both matrices and every per-latent vector). */
export function saeWeightBytes(d_in: number, d_sae: number): number {
  return 4 * (2 * d_in * d_sae + d_in + 5 * d_sae);
}

export interface BlockPlanInput {
  d_in: number;
  d_sae: number;
  /** Active latents per row kept by a TopK SAE (its running top-k lives in the budget too). */
  k?: number;
  budgetBytes: number;
  /** Force this many latents per block (tests use tiny blocks); still checked against the budget. */
  latentBlock?: number;
  /** Cap on token rows per chunk (default 4096). */
  maxChunkRows?: number;
  /** The decoder is stored latent-per-column (Llama Scope): a block is read as [d_in, B] and transposed via a staging copy. */
  decoderByColumns?: boolean;
}

export interface BlockPlan {
  /** Latents per block (the last block may be shorter). */
  latentBlock: number;
  blocks: number;
  /** Token rows per chunk: each chunk sweeps every block once. */
  chunkRows: number;
  /** The buffers the blocked forward allocates, in bytes; `total` ≤ the budget. */
  bytes: { vectors: number; encoderBlock: number; decoderBlock: number; staging: number; pre: number; topk: number; total: number };
}

function bytesFor(d: number, n: number, B: number, m: number, k: number, staged: boolean): BlockPlan["bytes"] {
  const vectors = 4 * (d + 5 * n);
  const encoderBlock = 4 * d * B, decoderBlock = 4 * B * d, staging = staged ? 4 * d * B : 0, pre = 4 * m * B, topk = 8 * m * k;
  return { vectors, encoderBlock, decoderBlock, staging, pre, topk, total: vectors + encoderBlock + decoderBlock + staging + pre + topk };
}

/**
 * Latent block and token chunk sizes whose buffers fit the budget: chunks of up to 4096 rows (fewer when the budget
 * is tight), then the widest latent block that fits beside them. An InputError when not even one latent and one row fit.
 */
export function planBlocks(input: BlockPlanInput): BlockPlan {
  const { d_in: d, d_sae: n, budgetBytes: budget } = input;
  const k = input.k ?? 0, staged = input.decoderByColumns ?? false;
  for (const [name, v] of [["d_in", d], ["d_sae", n]] as const) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new InputError("block plan", `${name} must be a positive integer, got ${v}`);
  }
  const maxRows = Math.max(1, Math.floor(input.maxChunkRows ?? TARGET_CHUNK_ROWS));
  const fits = (B: number, m: number) => bytesFor(d, n, B, m, k, staged).total <= budget;
  if (!fits(1, 1)) {
    throw new InputError("weight budget", `${(budget / 1024 ** 2).toFixed(1)} MiB cannot hold even one latent block of one row ` +
      `(d_in ${d}, d_sae ${n} need at least ${(bytesFor(d, n, 1, 1, k, staged).total / 1024 ** 2).toFixed(1)} MiB); raise it`);
  }
  // Rows first (halving until a block of at least min(n, 256) latents fits beside them), then the widest block.
  let m = maxRows;
  const minBlock = Math.min(n, 256, input.latentBlock ?? n);
  while (m > 1 && !fits(minBlock, m)) m = Math.ceil(m / 2);
  let B: number;
  if (input.latentBlock !== undefined) {
    if (!Number.isSafeInteger(input.latentBlock) || input.latentBlock <= 0) {
      throw new InputError("latentBlock", `must be a positive integer, got ${input.latentBlock}`);
    }
    B = Math.min(n, input.latentBlock);
    while (m > 1 && !fits(B, m)) m = Math.ceil(m / 2);
    if (!fits(B, m)) throw new InputError("latentBlock", `${B} latents per block do not fit the budget of ${budget} bytes`);
  } else {
    const perLatent = 4 * ((staged ? 3 : 2) * d + m);
    const fixed = bytesFor(d, n, 0, m, k, staged).total;
    B = Math.max(1, Math.min(n, Math.floor((budget - fixed) / perLatent)));
    // Even blocks: the same number of sweeps with less memory.
    const blocks = Math.ceil(n / B);
    B = Math.ceil(n / blocks);
  }
  const bytes = bytesFor(d, n, B, m, k, staged);
  return { latentBlock: B, blocks: Math.ceil(n / B), chunkRows: m, bytes };
}

/** Hands out the blocked forward's buffers and refuses any allocation past the budget; records the peak. */
export class BudgetAllocator {
  private live = 0;
  peak = 0;

  constructor(readonly budgetBytes: number, private readonly source: string) {}

  floats(n: number, what: string): Float32Array {
    this.take(4 * n, what);
    return new Float32Array(n);
  }

  ints(n: number, what: string): Int32Array {
    this.take(4 * n, what);
    return new Int32Array(n);
  }

  /** Returns a buffer's bytes to the budget (the caller drops its reference). */
  release(a: { byteLength: number }): void {
    this.live -= a.byteLength;
  }

  get liveBytes(): number { return this.live; }

  private take(bytes: number, what: string): void {
    if (this.live + bytes > this.budgetBytes) {
      throw new InputError(this.source, `${what} (${bytes} bytes) would exceed the weight budget of ${this.budgetBytes} bytes ` +
        `(${this.live} in use)`);
    }
    this.live += bytes;
    this.peak = Math.max(this.peak, this.live);
  }
}
