// Opens any supported tensor file by looking at its first bytes, never at its name: .npy has a magic string, .npz is
// a zip, and safetensors (which has no magic) starts with a plausible u64 header length followed by '{'.
import { InputError } from "../errors";
import { RandomAccessFile } from "./file";
import { openNpy } from "./npy";
import { NPY_MAGIC } from "./npyHeader";
import { openNpz } from "./npz";
import { openSafetensors } from "./safetensors";
import { OpenOptions, TensorFile, TensorFormat } from "./tensorFile";

/** Identifies the format of a tensor file from its leading bytes. */
export function detectTensorFormat(filePath: string): TensorFormat {
  const file = RandomAccessFile.open(filePath);
  try {
    const head = file.read(0, Math.min(9, file.size), "leading bytes");
    if (NPY_MAGIC.every((b, i) => head[i] === b)) return "npy";
    // Local file header, or the end record alone (np.savez with no arrays writes an empty zip).
    if (head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6))) return "npz";
    if (head.length === 9 && head[8] === 0x7b) {
      const n = new DataView(head.buffer).getBigUint64(0, true);
      if (n >= 2n && 8n + n <= BigInt(file.size)) return "safetensors";
    }
    throw new InputError(filePath,
      "not a .npy, .npz or safetensors file (raw headerless float32 needs readRawFloat32 with an explicit shape)");
  } finally {
    file.close();
  }
}

/** Opens a .npy, .npz or safetensors file, validating its structure before returning. */
export function openTensorFile(filePath: string, options: OpenOptions = {}): TensorFile {
  switch (detectTensorFormat(filePath)) {
    case "npy": return openNpy(filePath, options);
    case "npz": return openNpz(filePath, options);
    case "safetensors": return openSafetensors(filePath, options);
  }
}
