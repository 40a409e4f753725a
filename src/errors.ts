/**
 * The one error type for bad input: a file, a parameter or data that cannot be used. It names where the problem
 * is (a file path, a parameter name) and what it is, so a notebook user sees one clear line instead of a stack.
 */
export class InputError extends Error {
  constructor(readonly source: string, readonly problem: string) {
    super(`${source}: ${problem}`);
    this.name = "InputError";
  }
}
