// What `darkmatter inspect` asks of each kind of artifact. The interface lives at the bottom of the library so that
// lm/, activations/ and sae/ can each describe their own files without importing the command line; the registry
// that orders the inspectors (src/cli/inspect.ts) sits above all of them.
export interface Inspector {
  /** Short name printed as the kind of the artifact. */
  name: string;
  /** Whether this inspector understands `p` (cheap: headers and file names only; never throws for a foreign path). */
  detect(p: string): boolean;
  /** A JSON-friendly description; throws InputError for a broken artifact of this kind. */
  describe(p: string): Record<string, unknown>;
}
