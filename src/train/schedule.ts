// Learning rate: the sparsify default scaled by width, linear warm-up, then linear decay to zero.

/** sparsify's default learning rate for a TopK SAE with `nLatents` latents: 2e-4 / √(nLatents / 2^14). */
export function defaultLearningRate(nLatents: number): number {
  return 2e-4 / Math.sqrt(nLatents / 2 ** 14);
}

/**
 * The warm-up length actually used: `warmupSteps` (paper: 1000), but at most `maxFraction` of the run, so that
 * a short run is not all warm-up.
 */
export function effectiveWarmup(totalSteps: number, warmupSteps: number, maxFraction: number): number {
  return Math.max(0, Math.min(warmupSteps, Math.floor(totalSteps * maxFraction)));
}

/**
 * The learning rate of step `step` (0-based) of `totalSteps`: lr·(step+1)/warmup during warm-up, then
 * lr·(totalSteps − step)/(totalSteps − warmup), which reaches lr at the end of warm-up and would reach 0 one step
 * after the last. (transformers' linear schedule, shifted by one so that the first and last steps both move the
 * weights.)
 */
export function learningRateAt(step: number, lr: number, warmup: number, totalSteps: number): number {
  if (step < warmup) return (lr * (step + 1)) / warmup;
  if (step >= totalSteps) return 0;
  return (lr * (totalSteps - step)) / (totalSteps - warmup);
}
