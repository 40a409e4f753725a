// Seeded train/test splits by permutation (paper §2.5: shuffle the token rows, fit on the first 150,000 rows of the
// permutation, evaluate on the rest). A split is a role per row, so streaming readers can route each row without
// reordering the data: least squares and the metrics are sums, which do not care about row order.
import { InputError } from "../errors";
import { permutation } from "./random";

export const NO_ROLE = 0;
export const TRAIN = 1;
export const TEST = 2;

export interface TrainTestSplit {
  readonly rows: number;
  readonly seed: number;
  /** Per row: TRAIN (1), TEST (2) or NO_ROLE (0, when the test set is capped). */
  readonly roles: Uint8Array;
  readonly trainRows: number;
  readonly testRows: number;
}

export interface SplitOptions {
  /** Rows in the training set: the first `trainRows` of the permutation (paper: 150,000). */
  trainRows?: number;
  /** Alternatively, the training share in (0, 1); rounded to whole rows. */
  trainFraction?: number;
  /** Cap on the test set: the next `testRows` rows of the permutation (paper: 150,000 with the 1-offset). Default all. */
  testRows?: number;
  /** Permutation seed (default 0). */
  seed?: number;
}

/** The paper's split of `rows` token rows: the first `trainRows` of a seeded permutation train, the rest test. */
export function trainTestSplit(rows: number, options: SplitOptions): TrainTestSplit {
  if (!Number.isSafeInteger(rows) || rows < 2) throw new InputError("rows", `a split needs at least 2 rows, got ${rows}`);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new InputError("seed", `must be an integer, got ${seed}`);
  if ((options.trainRows === undefined) === (options.trainFraction === undefined)) {
    throw new InputError("split", "give exactly one of trainRows and trainFraction");
  }
  let train: number;
  if (options.trainFraction !== undefined) {
    const f = options.trainFraction;
    if (!(f > 0 && f < 1)) throw new InputError("trainFraction", `must lie in (0, 1), got ${f}`);
    train = Math.round(f * rows);
  } else {
    train = options.trainRows as number;
    if (!Number.isSafeInteger(train)) throw new InputError("trainRows", `must be an integer, got ${train}`);
  }
  if (train < 1 || train >= rows) throw new InputError("trainRows", `${train} training rows leave no test rows out of ${rows}`);
  const rest = rows - train;
  const test = options.testRows ?? rest;
  if (!Number.isSafeInteger(test) || test < 1) throw new InputError("testRows", `must be a positive integer, got ${test}`);
  const testRows = Math.min(test, rest);
  const perm = permutation(rows, seed);
  const roles = new Uint8Array(rows);
  for (let i = 0; i < train; i++) roles[perm[i]] = TRAIN;
  for (let i = train; i < train + testRows; i++) roles[perm[i]] = TEST;
  return { rows, seed, roles, trainRows: train, testRows };
}

/** A split whose training rows are given explicitly (e.g. the first rows, to compare with another tool). */
export function explicitSplit(rows: number, trainIndices: Iterable<number>, testIndices: Iterable<number>): TrainTestSplit {
  const roles = new Uint8Array(rows);
  let trainRows = 0, testRows = 0;
  const mark = (i: number, role: number) => {
    if (!Number.isSafeInteger(i) || i < 0 || i >= rows) throw new InputError("split", `row index ${i} is outside 0..${rows - 1}`);
    if (roles[i] !== NO_ROLE) throw new InputError("split", `row ${i} is listed twice`);
    roles[i] = role;
  };
  for (const i of trainIndices) { mark(i, TRAIN); trainRows++; }
  for (const i of testIndices) { mark(i, TEST); testRows++; }
  return { rows, seed: -1, roles, trainRows, testRows };
}

/** Which rows a computation uses: those whose role in `roles` equals `role`. Absent = every row. */
export interface RowSelection { roles: Uint8Array; role: number }

export function trainSelection(split: TrainTestSplit): RowSelection { return { roles: split.roles, role: TRAIN }; }
export function testSelection(split: TrainTestSplit): RowSelection { return { roles: split.roles, role: TEST }; }

/** How many of `rows` rows a selection picks. */
export function selectedCount(rows: number, sel: RowSelection | undefined): number {
  if (!sel) return rows;
  if (sel.roles.length !== rows) throw new InputError("rows", `the selection covers ${sel.roles.length} rows, the data has ${rows}`);
  let n = 0;
  for (let i = 0; i < rows; i++) if (sel.roles[i] === sel.role) n++;
  return n;
}
