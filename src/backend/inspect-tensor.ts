// A tensor printed as a cell's last value shows its shape, dtype and value range, not tfjs's internals (kernel ids,
// backend handles). Installed once on tf.Tensor's prototype when the backend module loads.
import * as tf from "@tensorflow/tfjs";
import { headText, inspectSymbol, rangeText } from "../inspect";

export function tensorSummary(t: tf.Tensor): string {
  if (t.isDisposed) return `Tensor ${t.dtype} [${t.shape.join(", ")}] (disposed)`;
  const head = `Tensor ${t.dtype} [${t.shape.join(", ")}]${t instanceof tf.Variable ? " (variable)" : ""}`;
  if (t.dtype === "string") return head;
  const v = t.dataSync() as ArrayLike<number>;
  return `${head}: ${rangeText(v)}\n  values ${headText(v)}`;
}

const proto = tf.Tensor.prototype as unknown as Record<symbol, unknown>;
if (!Object.prototype.hasOwnProperty.call(proto, inspectSymbol)) {
  Object.defineProperty(proto, inspectSymbol, {
    value: function (this: tf.Tensor) { return tensorSummary(this); }, enumerable: false, configurable: true, writable: true,
  });
}
