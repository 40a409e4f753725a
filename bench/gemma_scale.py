# Gemma-Scope-shaped SAEs for bench/gemma-scale.bench.ts and the acceptance runs, and the numpy side of the
# benchmark. Never a runtime or test dependency.
#
#   python3 bench/gemma_scale.py make DIR --widths 16384,262144 [--d 2304] [--tokens 20000] [--l0 60]
#       DIR/layer_12/width_<w>k/average_l0_<l0>/params.npz (stored zip, written in row chunks: bounded memory) and
#       DIR/x.npy (tokens × d float32 activations, N(0, 1)). W_enc columns are N(0, 1/d), so pre-activations are about
#       N(0, 1); the threshold is the normal quantile that leaves the wanted L0 on average.
#   python3 bench/gemma_scale.py forward SAE.npz X.npy --block B --chunk C [--dtype float32|float64] [--rows N] [--out F.npy]
#       The JumpReLU forward over the same latent blocks and token chunks as ours (encoder block by block from the
#       memory-mapped npz member, decode from the active latents' decoder rows); prints JSON {seconds, tokens_per_s,
#       mean_l0}. float64 is the accuracy reference.
#   python3 bench/gemma_scale.py compare A.npy B.npy     max |a − b| / max |b| as JSON
import json, os, sys, time, zipfile
from statistics import NormalDist
import numpy as np


def member_array(npz_path, name):
    """A read-only memmap of a stored .npz member (what a numpy user does with a multi-GB params.npz)."""
    with zipfile.ZipFile(npz_path) as zf:
        info = zf.getinfo(name + ".npy")
        if info.compress_type != zipfile.ZIP_STORED:
            return np.load(npz_path)[name]
        with open(npz_path, "rb") as f:
            f.seek(info.header_offset)
            local = f.read(30)
            n_name = int.from_bytes(local[26:28], "little")
            n_extra = int.from_bytes(local[28:30], "little")
            start = info.header_offset + 30 + n_name + n_extra
            f.seek(start)
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(f)
            offset = f.tell()
    return np.memmap(npz_path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")


def write_member(zf, name, shape, fill, chunk_rows):
    """Writes one float32 .npy member row chunk by row chunk; fill(r0, r1) returns rows [r0, r1)."""
    with zf.open(name + ".npy", "w", force_zip64=True) as out:
        np.lib.format.write_array_header_1_0(out, {"descr": "<f4", "fortran_order": False, "shape": tuple(shape)})
        for r0 in range(0, shape[0], chunk_rows):
            r1 = min(shape[0], r0 + chunk_rows)
            out.write(np.ascontiguousarray(fill(r0, r1), dtype=np.float32).tobytes())


def make(argv):
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("dir"); p.add_argument("--widths", required=True); p.add_argument("--d", type=int, default=2304)
    p.add_argument("--tokens", type=int, default=20000); p.add_argument("--l0", type=int, default=60)
    a = p.parse_args(argv)
    d = a.d
    os.makedirs(a.dir, exist_ok=True)
    xs = os.path.join(a.dir, "x.npy")
    if not os.path.exists(xs):
        np.save(xs, np.random.default_rng(1).standard_normal((a.tokens, d), dtype=np.float32))
    for w in [int(s) for s in a.widths.split(",")]:
        folder = os.path.join(a.dir, "layer_12", f"width_{w // 1000}k", f"average_l0_{a.l0}")
        target = os.path.join(folder, "params.npz")
        if os.path.exists(target):
            continue
        os.makedirs(folder, exist_ok=True)
        rng = np.random.default_rng(w)
        theta = NormalDist().inv_cdf(1 - a.l0 / w)
        scale_enc, scale_dec = np.float32(1 / np.sqrt(d)), np.float32(1 / np.sqrt(a.l0))
        rows = max(1, (256 << 20) // (4 * max(w, d)))
        tmp = target + ".tmp"
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            write_member(zf, "W_enc", (d, w), lambda r0, r1: rng.standard_normal((r1 - r0, w), dtype=np.float32) * scale_enc, rows)
            write_member(zf, "W_dec", (w, d), lambda r0, r1: rng.standard_normal((r1 - r0, d), dtype=np.float32) * scale_dec, rows)
            write_member(zf, "b_enc", (w,), lambda r0, r1: np.zeros(r1 - r0, np.float32), w)
            write_member(zf, "b_dec", (d,), lambda r0, r1: np.zeros(r1 - r0, np.float32), d)
            write_member(zf, "threshold", (w,), lambda r0, r1: np.full(r1 - r0, theta, np.float32), w)
        os.replace(tmp, target)
        print(target, flush=True)


def forward(argv):
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("sae"); p.add_argument("x"); p.add_argument("--block", type=int, required=True)
    p.add_argument("--chunk", type=int, default=4096); p.add_argument("--dtype", default="float32")
    p.add_argument("--rows", type=int); p.add_argument("--out")
    a = p.parse_args(argv)
    dt = np.dtype(a.dtype)
    W_enc, W_dec = member_array(a.sae, "W_enc"), member_array(a.sae, "W_dec")
    b_enc = member_array(a.sae, "b_enc").astype(dt); b_dec = member_array(a.sae, "b_dec").astype(dt)
    thr = np.maximum(member_array(a.sae, "threshold").astype(dt), 0)
    x = np.load(a.x, mmap_mode="r")
    n = x.shape[0] if a.rows is None else min(a.rows, x.shape[0])
    d, w = W_enc.shape
    out = np.empty((n, d), dtype=np.float32) if a.out else None
    active = 0
    t0 = time.perf_counter()
    for r0 in range(0, n, a.chunk):
        xb = np.asarray(x[r0:r0 + a.chunk][: n - r0], dtype=dt)
        recon = np.broadcast_to(b_dec, xb.shape).copy()
        for j0 in range(0, w, a.block):
            j1 = min(w, j0 + a.block)
            pre = xb @ np.asarray(W_enc[:, j0:j1], dtype=dt) + b_enc[j0:j1]
            rows, cols = np.nonzero(pre > thr[j0:j1])
            active += rows.size
            if rows.size == 0:
                continue
            vals = pre[rows, cols]
            used = np.unique(cols)
            Wd = np.asarray(W_dec[j0 + used], dtype=dt)  # only the active latents' decoder rows
            contrib = vals[:, None] * Wd[np.searchsorted(used, cols)]
            starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            recon[rows[starts]] += np.add.reduceat(contrib, starts, axis=0)
        if out is not None:
            out[r0:r0 + xb.shape[0]] = recon
    seconds = time.perf_counter() - t0
    if out is not None:
        np.save(a.out, out)
    print(json.dumps({"seconds": seconds, "tokens_per_s": n / seconds, "mean_l0": active / n, "rows": n}))


def compare(argv):
    a, b = np.load(argv[0], mmap_mode="r"), np.load(argv[1], mmap_mode="r")
    n = min(a.shape[0], b.shape[0])
    a, b = np.asarray(a[:n], np.float64), np.asarray(b[:n], np.float64)
    print(json.dumps({"rows": n, "max_abs": float(np.abs(a - b).max()), "relative": float(np.abs(a - b).max() / np.abs(b).max())}))


if __name__ == "__main__":
    {"make": make, "forward": forward, "compare": compare}[sys.argv[1]](sys.argv[2:])
