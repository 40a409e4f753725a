// The activation rules of each architecture, run on the backend. Each rule frees its intermediates as soon as they
// are consumed, so a chunk needs at most three [rows, d_sae] buffers on the backend.
import { matMul, tf } from "../backend/index";
import { InputError } from "../errors";
import type { SaeView as Sae } from "./types";

/** Dense latents of an encoder input xin = x − b_dec·apply_b_dec [m, d_in], freeing intermediates as it goes. */
export function activate(sae: Sae, xin: tf.Tensor2D): tf.Tensor2D {
  const h = matMul(xin, sae.W_enc);
  switch (sae.architecture) {
    case "relu": {
      const pre = tf.add(h, sae.b_enc!);
      h.dispose();
      const f = tf.relu(pre);
      pre.dispose();
      return f as tf.Tensor2D;
    }
    case "jumprelu": {
      // f = pre · 1[pre > θ⁺] with θ⁺ = max(θ, 0); step(0) = 0 makes the comparison strict.
      const pre = tf.add(h, sae.b_enc!);
      h.dispose();
      const shifted = tf.sub(pre, sae.thresholdNonNegative!);
      const mask = tf.step(shifted);
      shifted.dispose();
      const f = tf.mul(pre, mask);
      pre.dispose();
      mask.dispose();
      return f as tf.Tensor2D;
    }
    case "gated": {
      // SAELens gated: gate = 1[x_c W_enc + b_gate > 0]; magnitude = relu(x_c W_enc · exp(r_mag) + b_mag).
      // Scaling the columns of h equals scaling W_enc's columns, so one matmul serves both paths.
      const gatePre = tf.add(h, sae.b_gate!);
      const gate = tf.step(gatePre);
      gatePre.dispose();
      const scaled = tf.mul(h, sae.magScale!);
      h.dispose();
      const magPre = tf.add(scaled, sae.b_mag!);
      scaled.dispose();
      const mag = tf.relu(magPre);
      magPre.dispose();
      const f = tf.mul(gate, mag);
      gate.dispose();
      mag.dispose();
      return f as tf.Tensor2D;
    }
    case "topk": {
      const pre = tf.add(h, sae.b_enc!);
      h.dispose();
      const pos = tf.relu(pre);
      pre.dispose();
      const f = topkDense(pos as tf.Tensor2D, sae.k!);
      pos.dispose();
      return f;
    }
  }
}

/**
 * Keeps the k largest entries per row of a non-negative matrix, zeroing the rest. Ties are broken toward the lower
 * latent index (tf.topk's order on every backend), so exactly k entries survive even when values repeat.
 */
function topkDense(pos: tf.Tensor2D, k: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [m, n] = pos.shape;
    const { values, indices } = tf.topk(pos, k);
    const rowIds = tf.tile(tf.reshape(tf.range(0, m, 1, "int32"), [m, 1]), [1, k]);
    const coords = tf.reshape(tf.stack([rowIds, indices], 2), [m * k, 2]);
    return tf.scatterND(coords, tf.reshape(values, [m * k]), [m, n]) as tf.Tensor2D;
  });
}

export function encoderInput(sae: Sae, x: tf.Tensor2D): tf.Tensor2D {
  return sae.applyBDecToInput ? tf.sub(x, sae.b_dec) : tf.clone(x);
}

/** Dense latents [n, d_sae] on the backend. */
export function encodeDense(sae: Sae, x: tf.Tensor2D): tf.Tensor2D {
  if (x.rank !== 2 || x.shape[1] !== sae.d_in) throw new InputError("input", `expected shape [n, ${sae.d_in}], got [${x.shape.join(", ")}]`);
  return tf.tidy(() => activate(sae, encoderInput(sae, x)));
}

/** f · W_dec + b_dec, differentiable in f. */
export function decodeDense(sae: Sae, f: tf.Tensor2D): tf.Tensor2D {
  if (f.rank !== 2 || f.shape[1] !== sae.d_sae) throw new InputError("latents", `expected shape [n, ${sae.d_sae}], got [${f.shape.join(", ")}]`);
  return tf.tidy(() => tf.add(matMul(f, sae.W_dec), sae.b_dec) as tf.Tensor2D);
}
