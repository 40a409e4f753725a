// Dead-latent bookkeeping as in sparsify/OpenAI: per latent, the number of training tokens since it last fired;
// a latent is dead once that reaches the window (sparsify: 10M tokens). A latent that has not yet had a full window
// to fire in is not dead.
import { InputError } from "../errors";
import type { SparseActs } from "./sparse";

export class DeadLatentTracker {
  /** Tokens since each latent last fired (capped at 2^52, far beyond any window). */
  readonly tokensSinceFired: Float64Array;

  constructor(readonly nLatents: number, readonly windowTokens: number) {
    if (!(Number.isInteger(windowTokens) && windowTokens >= 1)) {
      throw new InputError("deadWindowTokens", `must be a positive integer number of tokens, got ${windowTokens}`);
    }
    this.tokensSinceFired = new Float64Array(nLatents);
  }

  /** Records one batch of `tokens` tokens whose active latents are `acts`. */
  update(acts: SparseActs, tokens: number): void {
    const since = this.tokensSinceFired;
    for (let j = 0; j < since.length; j++) since[j] = Math.min(since[j] + tokens, 2 ** 52);
    const { idx, val } = acts;
    for (let p = 0; p < acts.nnz; p++) if (val[p] > 0) since[idx[p]] = 0;
  }

  isDead(j: number): boolean {
    return this.tokensSinceFired[j] >= this.windowTokens;
  }

  /** Number of dead latents. */
  deadCount(): number {
    let c = 0;
    for (let j = 0; j < this.nLatents; j++) if (this.isDead(j)) c++;
    return c;
  }

  /** The fraction of latents that did not fire in the last `windowTokens` tokens. */
  deadFraction(): number {
    return this.deadCount() / this.nLatents;
  }
}
