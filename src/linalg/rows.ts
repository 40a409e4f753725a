// Row sources: the one way data reaches the least-squares engine and the metrics. A source knows its shape and
// yields whole rows in order, in chunks, so that nothing downstream ever needs the whole matrix in memory.
import { InputError } from "../errors";

/** Row-major chunk of whole rows. float32 is the storage type of activations; float64 is accepted as well. */
export type RowChunk = Float32Array | Float64Array;

/** A matrix of `rows` × `cols` values that can be read front to back, a chunk of whole rows at a time. */
export interface RowSource {
  readonly rows: number;
  readonly cols: number;
  /**
   * Yields every row once, in order, as row-major chunks. `rowsPerChunk` is a hint: chunks may hold any whole
   * number of rows (readers re-chunk), but together they must hold exactly `rows` rows.
   */
  chunks(rowsPerChunk: number): Iterable<RowChunk>;
  /** A short name for error messages (a file path, a parameter name). */
  readonly name?: string;
  /** Rows [start, end) as a source of their own, read without the rows before them (see `sliceRows`). */
  slice?(start: number, end: number): RowSource;
}

function checkShape(rows: number, cols: number, name: string): void {
  if (!Number.isSafeInteger(rows) || rows < 0) throw new InputError(name, `row count must be a non-negative integer, got ${rows}`);
  if (!Number.isSafeInteger(cols) || cols < 1) throw new InputError(name, `column count must be a positive integer, got ${cols}`);
}

/** A source over an in-memory row-major array (views of it are yielded, nothing is copied). */
export function arraySource(data: RowChunk, cols: number, name = "array"): RowSource {
  checkShape(0, cols, name);
  if (data.length % cols !== 0) throw new InputError(name, `length ${data.length} is not a multiple of ${cols} columns`);
  const rows = data.length / cols;
  return {
    rows, cols, name,
    *chunks(rowsPerChunk: number) {
      const step = Math.max(1, Math.floor(rowsPerChunk));
      for (let r = 0; r < rows; r += step) yield data.subarray(r * cols, Math.min(rows, r + step) * cols);
    },
    slice: (start, end) => arraySource(data.subarray(checkRange(rows, start, end, name) * cols, end * cols), cols, name),
  };
}

function checkRange(rows: number, start: number, end: number, name: string): number {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > rows) {
    throw new InputError(name, `rows [${start}, ${end}) are not a range of its ${rows} rows`);
  }
  return start;
}

/**
 * Rows [start, end) of a source: through its own `slice` when it has one (a file read from an offset), otherwise by
 * reading and skipping the rows before `start`.
 */
export function sliceRows(source: RowSource, start: number, end: number): RowSource {
  const name = source.name ?? "source";
  checkRange(source.rows, start, end, name);
  if (source.slice) {
    const s = source.slice(start, end);
    if (s.rows !== end - start || s.cols !== source.cols) throw new InputError(name, `its slice [${start}, ${end}) has ${s.rows}×${s.cols} rows, not ${end - start}×${source.cols}`);
    return s;
  }
  return generatedSource(end - start, source.cols, function* (rowsPerChunk) {
    for (const { data, start: s, rows } of readChunks(source, rowsPerChunk)) {
      const lo = Math.max(start, s), hi = Math.min(end, s + rows);
      if (lo < hi) yield data.subarray((lo - s) * source.cols, (hi - s) * source.cols);
      if (s + rows >= end) return;
    }
  }, name);
}

/** A source over rows given as nested arrays (convenient in notebooks); copied once into float64. */
export function nestedArraySource(data: readonly (readonly number[])[], name = "array"): RowSource {
  if (data.length === 0) throw new InputError(name, "no rows");
  const cols = data[0].length;
  const flat = new Float64Array(data.length * cols);
  data.forEach((row, i) => {
    if (row.length !== cols) throw new InputError(name, `row ${i} has ${row.length} values, row 0 has ${cols}`);
    flat.set(row, i * cols);
  });
  return arraySource(flat, cols, name);
}

/** A source whose chunks come from a function (a file reader, a model run). Chunk sizes are checked when read. */
export function generatedSource(rows: number, cols: number, chunks: (rowsPerChunk: number) => Iterable<RowChunk>,
  name = "source"): RowSource {
  checkShape(rows, cols, name);
  return { rows, cols, name, chunks };
}

/** A source computed row-chunk by row-chunk from another one (`fn` gets whole rows and returns `cols` per row). */
export function mapSource(source: RowSource, cols: number, fn: (chunk: RowChunk, rows: number) => RowChunk,
  name = source.name ?? "mapped source"): RowSource {
  checkShape(source.rows, cols, name);
  return {
    rows: source.rows, cols, name,
    *chunks(rowsPerChunk: number) {
      for (const { data, rows } of readChunks(source, rowsPerChunk)) {
        const out = fn(data, rows);
        if (out.length !== rows * cols) throw new InputError(name, `mapping returned ${out.length} values for ${rows} rows of ${cols}`);
        yield out;
      }
    },
  };
}

/** One chunk as readers see it: `rows` whole rows starting at row `start`. */
export interface ChunkView { data: RowChunk; start: number; rows: number }

/**
 * Reads a source in chunks of exactly `rowsPerChunk` rows (the last may be shorter), re-chunking whatever the
 * source yields, and checks that chunks hold whole rows and that the source holds exactly the rows it declares.
 */
export function* readChunks(source: RowSource, rowsPerChunk: number): Generator<ChunkView> {
  const name = source.name ?? "source";
  const { rows, cols } = source;
  checkShape(rows, cols, name);
  const step = Math.max(1, Math.floor(rowsPerChunk));
  let start = 0; // rows yielded so far
  let pending: Float64Array | null = null; // float64 so that mixed float32/float64 chunks lose nothing
  let pendingRows = 0;
  for (const chunk of source.chunks(step)) {
    if (!(chunk instanceof Float32Array) && !(chunk instanceof Float64Array)) {
      throw new InputError(name, "chunks must be Float32Array or Float64Array");
    }
    if (chunk.length % cols !== 0) throw new InputError(name, `a chunk of ${chunk.length} values does not hold whole rows of ${cols}`);
    let offset = 0; // rows of this chunk consumed
    const chunkRows = chunk.length / cols;
    if (start + pendingRows + chunkRows > rows) {
      throw new InputError(name, `yields more than the ${rows} rows it declares`);
    }
    while (offset < chunkRows) {
      if (pendingRows === 0 && chunkRows - offset >= Math.min(step, rows - start)) {
        // Fast path: a whole output chunk is available as a view.
        const n = Math.min(step, rows - start);
        yield { data: chunk.subarray(offset * cols, (offset + n) * cols), start, rows: n };
        start += n; offset += n;
        continue;
      }
      const want = Math.min(step, rows - start);
      if (!pending) pending = new Float64Array(want * cols);
      const n = Math.min(want - pendingRows, chunkRows - offset);
      pending.set(chunk.subarray(offset * cols, (offset + n) * cols), pendingRows * cols);
      pendingRows += n; offset += n;
      if (pendingRows === want) {
        yield { data: pending.subarray(0, want * cols), start, rows: want };
        start += want; pendingRows = 0;
        pending = null; // the consumer may keep the yielded view
      }
    }
  }
  if (start + pendingRows !== rows) throw new InputError(name, `yields ${start + pendingRows} rows but declares ${rows}`);
}

/** Reads several sources with the same row count in lockstep (same chunk boundaries). */
export function* zipChunks(sources: readonly RowSource[], rowsPerChunk: number): Generator<{ data: RowChunk[]; start: number; rows: number }> {
  const rows = sources[0].rows;
  for (const s of sources) {
    if (s.rows !== rows) {
      throw new InputError(s.name ?? "source", `has ${s.rows} rows but ${sources[0].name ?? "the first source"} has ${rows}`);
    }
  }
  const its = sources.map((s) => readChunks(s, rowsPerChunk));
  for (;;) {
    const steps = its.map((it) => it.next());
    if (steps.every((s) => s.done)) return;
    const views = steps.map((s) => s.value as ChunkView);
    yield { data: views.map((v) => v.data), start: views[0].start, rows: views[0].rows };
  }
}

/** Whether every value of row `row` of row-major data with `cols` columns is finite. */
export function rowIsFinite(data: RowChunk, row: number, cols: number): boolean {
  const o = row * cols;
  for (let j = 0; j < cols; j++) {
    const v = data[o + j];
    if (v - v !== 0) return false; // NaN and ±Infinity give NaN here
  }
  return true;
}

/** Reads a whole (small) source into one float64 array. */
export function collectRows(source: RowSource, rowsPerChunk = 4096): Float64Array {
  const out = new Float64Array(source.rows * source.cols);
  for (const { data, start } of readChunks(source, rowsPerChunk)) out.set(data, start * source.cols);
  return out;
}
