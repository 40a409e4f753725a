// float32 matmul throughput (GFLOP/s) of every backend available here next to numpy, on the shapes the
// experiments hit: [4096x512]x[512x4096], [2048x2048]x[2048x2048], [8192x256]x[256x8192].
import { availableBackends, initBackend, tf } from "../src/backend/index";
import { printTable, runPython, timeIt } from "./harness";

const SHAPES: [number, number, number][] = [[4096, 512, 4096], [2048, 2048, 2048], [8192, 256, 8192]];

async function main(): Promise<void> {
  const backends = availableBackends();
  const results: Record<string, number[]> = {};
  for (const name of backends) {
    await initBackend(name);
    results[name] = SHAPES.map(([m, k, n]) => {
      const a = tf.randomNormal([m, k]), b = tf.randomNormal([k, n]);
      const reps = name === "cpu" ? 1 : 9;
      // The product is computed synchronously on these backends; dispose keeps the heap from growing.
      const seconds = timeIt(() => tf.matMul(a, b).dispose(), reps, name === "cpu" ? 0 : 1);
      tf.dispose([a, b]);
      return (2 * m * k * n) / seconds / 1e9;
    });
  }
  const numpy = runPython<{ gflops: number[]; blas: string }>("matmul.py", { shapes: SHAPES, reps: 9 });
  const header = ["shape", ...backends.map((b) => `${b} GFLOP/s`), "numpy GFLOP/s", `${backends[0]}/numpy`];
  const rows = SHAPES.map(([m, k, n], i) => [`[${m}x${k}]x[${k}x${n}]`, ...backends.map((b) => results[b][i]),
    numpy ? numpy.gflops[i] : "n/a", numpy ? results[backends[0]][i] / numpy.gflops[i] : "n/a"]);
  printTable(`float32 matmul (numpy: ${numpy ? numpy.blas : "not installed"})`, header, rows);
}

main().catch((err) => { console.error(err); process.exit(1); });
