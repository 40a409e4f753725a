// One TopK SAE training step (forward, FVU loss, backward, decoder-gradient projection, clip, Adam, decoder renorm)
// at d = 256 / 4096 latents and at the default model's shape d = 192 / 6144 latents (k = 32, batch 4096), next to
// the numpy reference (bench/train-step.py) in the same run. Both sides start from the same closed-form data and
// weights, so their first-step FVUs must agree (printed as a correctness check).
import { backendInfo, initBackend } from "../src/backend/index";
import { encoderProduct, encoderProductPath } from "../src/train/dense";
import { SaeTrainingState } from "../src/train/sae-state";
import { printTable, runPython, timeIt } from "./harness";

const CASES = [
  { name: "d=256, n=4096", d: 256, n: 4096, k: 32, batch: 4096 },
  { name: "default model: d=192, n=6144", d: 192, n: 6144, k: 32, batch: 4096 },
];
const REPS = 5;

interface NumpyCase { [variant: string]: { seconds: number; first_fvu: number } }

function makeState(c: typeof CASES[number]): SaeTrainingState {
  const { d, n, k, batch } = c;
  const state = new SaeTrainingState({
    d, nLatents: n, k, batchSize: batch, architecture: "topk", auxkCoef: 0, kAux: d / 2,
    adamBeta1: 0.9, adamBeta2: 0.999, adamEps: 1e-8, gradClip: 1,
  }, encoderProduct());
  // The closed-form data and weights of train-step.py.
  for (let i = 0; i < batch * d; i++) state.x[i] = Math.sin(0.37 * i + 1) + 0.5 * Math.sin(0.011 * i);
  const { Wdec, WencT, bdec } = state.params;
  for (let i = 0; i < n * d; i++) Wdec[i] = Math.sin(0.71 * i + 2);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let t = 0; t < d; t++) s += Wdec[j * d + t] ** 2;
    const norm = Math.fround(Math.sqrt(s));
    for (let t = 0; t < d; t++) Wdec[j * d + t] = Wdec[j * d + t] / norm;
  }
  WencT.set(Wdec);
  for (let t = 0; t < d; t++) {
    let s = 0;
    for (let b = 0; b < batch; b++) s += state.x[b * d + t];
    bdec[t] = s / batch;
  }
  return state;
}

async function main(): Promise<void> {
  await initBackend();
  const numpy = runPython<{ cases: NumpyCase[]; numpy: string }>("train-step.py", { cases: CASES, reps: REPS });
  const rows: (string | number)[][] = [];
  for (const [i, c] of CASES.entries()) {
    const state = makeState(c);
    const firstFvu = state.forwardBackward().fvu;
    state.update(1e-4);
    let fb = 0, upd = 0;
    const total = timeIt(() => {
      const t0 = process.hrtime.bigint();
      state.forwardBackward();
      const t1 = process.hrtime.bigint();
      state.update(1e-4);
      fb = Number(t1 - t0) / 1e6;
      upd = Number(process.hrtime.bigint() - t1) / 1e6;
    }, REPS, 0);
    const np = numpy?.cases[i];
    const best = np ? Object.entries(np).sort((a, b) => a[1].seconds - b[1].seconds)[0] : undefined;
    rows.push([
      c.name, total * 1000, fb, upd,
      np?.dense ? np.dense.seconds * 1000 : "n/a", np?.sparse ? np.sparse.seconds * 1000 : "n/a",
      best ? total / best[1].seconds : "n/a",
      best ? Math.abs(firstFvu - best[1].first_fvu) / best[1].first_fvu : "n/a",
    ]);
  }
  printTable(
    `TopK SAE training step, k=32, batch 4096, Adam (ours: ${backendInfo().name}, encoder via ${encoderProductPath()}; ` +
    `numpy ${numpy ? numpy.numpy : "not installed"}; median of ${REPS}; fwd+bwd / update = last rep)`,
    ["case", "ours ms", "fwd+bwd ms", "update ms", "numpy dense ms", "numpy scipy.sparse ms", "ours/best numpy", "first-FVU rel diff"],
    rows);
}

main().catch((err) => { console.error(err); process.exit(1); });
