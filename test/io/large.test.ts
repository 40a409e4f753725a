// A stored .npz member larger than 4 GiB (ZIP64 sizes and offsets, like a Gemma Scope 9B params.npz), built by hand
// as a sparse file so it costs no disk or time: rows must be readable by position without loading the member.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { InputError } from "../../src/errors";
import { openTensorFile } from "../../src/io/index";

const ROWS = 1_100_000;
const COLS = 1024;
const DATA_BYTES = ROWS * COLS * 4; // 4.5e9 > 2^32

function npyHeader(): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${ROWS}, ${COLS}), }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const h = Buffer.alloc(total, 0x20);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(h);
  h.writeUInt16LE(total - 10, 8);
  h.write(dict, 10, "latin1");
  h[total - 1] = 0x0a;
  return h;
}

function row(r: number): Float32Array {
  return Float32Array.from({ length: COLS }, (_, j) => r + j / 1024);
}

test("rows of a >4 GiB stored npz member are read in place via ZIP64 offsets", (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "io-large-"));
  const file = path.join(dir, "params.npz");
  try {
    const name = Buffer.from("W_enc.npy");
    const header = npyHeader();
    const memberSize = header.length + DATA_BYTES;
    const local = Buffer.alloc(30 + name.length + 20);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(45, 4);
    local.writeUInt32LE(0x12345678, 14); // CRC: only checked by whole reads, which this size refuses anyway
    local.writeUInt32LE(0xffffffff, 18);
    local.writeUInt32LE(0xffffffff, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(20, 28);
    name.copy(local, 30);
    local.writeUInt16LE(1, 30 + name.length);
    local.writeUInt16LE(16, 32 + name.length);
    local.writeBigUInt64LE(BigInt(memberSize), 34 + name.length);
    local.writeBigUInt64LE(BigInt(memberSize), 42 + name.length);
    const dataStart = local.length + header.length;
    const cdOffset = local.length + memberSize;
    const central = Buffer.alloc(46 + name.length + 20);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(45, 4);
    central.writeUInt16LE(45, 6);
    central.writeUInt32LE(0x12345678, 16);
    central.writeUInt32LE(0xffffffff, 20);
    central.writeUInt32LE(0xffffffff, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(20, 30);
    name.copy(central, 46);
    central.writeUInt16LE(1, 46 + name.length);
    central.writeUInt16LE(16, 48 + name.length);
    central.writeBigUInt64LE(BigInt(memberSize), 50 + name.length);
    central.writeBigUInt64LE(BigInt(memberSize), 58 + name.length);
    const recAt = cdOffset + central.length;
    const end = Buffer.alloc(56 + 20 + 22);
    end.writeUInt32LE(0x06064b50, 0);
    end.writeBigUInt64LE(44n, 4);
    end.writeUInt16LE(45, 12);
    end.writeUInt16LE(45, 14);
    end.writeBigUInt64LE(1n, 24);
    end.writeBigUInt64LE(1n, 32);
    end.writeBigUInt64LE(BigInt(central.length), 40);
    end.writeBigUInt64LE(BigInt(cdOffset), 48);
    end.writeUInt32LE(0x07064b50, 56);
    end.writeBigUInt64LE(BigInt(recAt), 64);
    end.writeUInt32LE(1, 72);
    end.writeUInt32LE(0x06054b50, 76);
    end.writeUInt16LE(1, 84);
    end.writeUInt16LE(1, 86);
    end.writeUInt32LE(central.length, 88);
    end.writeUInt32LE(0xffffffff, 92);

    const written = [0, 1, 777_777, ROWS - 2, ROWS - 1];
    const fd = fs.openSync(file, "w");
    try {
      fs.writeSync(fd, local, 0, local.length, 0);
      fs.writeSync(fd, header, 0, header.length, local.length);
      for (const r of written) {
        const b = row(r);
        fs.writeSync(fd, new Uint8Array(b.buffer), 0, b.byteLength, dataStart + r * COLS * 4);
      }
      fs.writeSync(fd, central, 0, central.length, cdOffset);
      fs.writeSync(fd, end, 0, end.length, recAt);
    } finally {
      fs.closeSync(fd);
    }
    if (fs.statSync(file).blocks * 512 > 64 << 20) {
      t.skip("the temp filesystem does not support sparse files");
      return;
    }
    const tf = openTensorFile(file);
    try {
      assert.deepEqual(tf.entries, [{ name: "W_enc", dtype: "float32", shape: [ROWS, COLS] }]);
      assert.throws(() => tf.read("W_enc"), (e: unknown) => e instanceof InputError && /row chunks/.test(e.message));
      for (const r of written) assert.deepEqual(tf.readRowsFloat32("W_enc", r, 1), row(r), `row ${r}`);
      const three = tf.readRowsFloat32("W_enc", ROWS - 3, 3);
      assert.deepEqual(three.subarray(0, COLS), new Float32Array(COLS)); // a hole reads as zeros
      assert.deepEqual(three.subarray(COLS), Float32Array.from([...row(ROWS - 2), ...row(ROWS - 1)]));
    } finally {
      tf.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
