// Seeded randomness for tests: the library's mulberry32 uniforms and Box–Muller normals, identical on every machine.
import { mulberry32 } from "../../src/linalg/random";

export const rng = mulberry32;

export function normals(n: number, seed: number): Float32Array {
  const u = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = Math.sqrt(-2 * Math.log(u() + 1e-12));
    out[i] = r * Math.cos(2 * Math.PI * u());
  }
  return out;
}
