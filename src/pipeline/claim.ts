// One row of the "paper's claim | measured here | holds?" table. Defined here, where the verdicts are computed;
// publish/headline.ts re-exports it and renders the rows (publish sits above pipeline, never below it).
export interface Claim {
  /** The paper's claim, in a sentence. */
  claim: string;
  /** What was measured here, with numbers. */
  measured: string;
  /** Whether the measurement supports the claim; null when it cannot be decided here. */
  holds: boolean | null;
}
