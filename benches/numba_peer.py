#!/usr/bin/env python3
"""Numba versions of the kernels in kernels/, for `kiln bench` to compare with.

Usage: numba_peer.py KERNEL DIR REPEATS TARGET_SECONDS

DIR holds one NAME.npy per array parameter and scalars.json with the scalar
arguments, as `kiln bench` wrote them. For each mode (njit, njit parallel)
this script times the first call (compile + run) and then the median of
repeated calls, each on the inputs restored in place (copying is not timed),
writes the outputs of one run as DIR/<mode>__NAME.npy, and prints one JSON
line: {"numba": {"compile_seconds", "seconds", "runs"}, "numba-parallel": …}.
"""
import json
import math
import os
import sys
import time

import numpy as np
from numba import njit, prange


def make(parallel):
    rng = prange if parallel else range
    jit = njit(parallel=parallel, fastmath=False, cache=False)

    @jit
    def saxpy(a, x, y):
        for i in rng(y.shape[0]):
            y[i] = a * x[i] + y[i]

    @jit
    def triad(a, b, c, s):
        for i in rng(a.shape[0]):
            a[i] = b[i] + s * c[i]

    @jit
    def scale_inplace(x, s):
        for i in rng(x.shape[0]):
            x[i] *= s

    @jit
    def sum_sq(x):
        total = 0.0
        for i in rng(x.shape[0]):
            total += x[i] * x[i]
        return total

    @jit
    def dot(x, y):
        acc = 0.0
        for i in rng(x.shape[0]):
            acc += x[i] * y[i]
        return acc

    @jit
    def minmax(x, out):
        lo = np.float32(np.inf)
        hi = np.float32(-np.inf)
        for i in rng(x.shape[0]):
            lo = min(lo, x[i])
            hi = max(hi, x[i])
        out[0] = lo
        out[1] = hi
        return hi - lo

    @jit
    def sum_of_squares_range(out, iters):
        for k in rng(out.shape[0]):
            n_k = (k * 7919) % iters
            s = 0
            for i in range(n_k):
                s += i * i
            out[k] = s

    @jit
    def mandelbrot(out, max_iter):
        h, w = out.shape
        for py in rng(h):
            for px in range(w):
                cr = -2.0 + 3.0 * px / w
                ci = -1.5 + 3.0 * py / h
                zr = 0.0
                zi = 0.0
                n = 0
                while n < max_iter and zr * zr + zi * zi <= 4.0:
                    t = zr * zr - zi * zi + cr
                    zi = 2.0 * zr * zi + ci
                    zr = t
                    n += 1
                out[py, px] = n

    @jit
    def cnd(d):
        return 0.5 * (1.0 + math.erf(d / math.sqrt(2.0)))

    @jit
    def blackscholes(spot, strike, years, rate, vol, call, put):
        for i in rng(call.shape[0]):
            s = 10.0 + 90.0 * spot[i]
            k = 10.0 + 90.0 * strike[i]
            t = 0.1 + 1.9 * years[i]
            vst = vol * math.sqrt(t)
            d1 = (math.log(s / k) + (rate + 0.5 * vol * vol) * t) / vst
            d2 = d1 - vst
            dk = k * math.exp(-rate * t)
            call[i] = s * cnd(d1) - dk * cnd(d2)
            put[i] = dk * cnd(-d2) - s * cnd(-d1)

    @jit
    def nbody(pos, mass, acc, softening):
        n = pos.shape[0]
        eps2 = softening * softening
        for i in rng(n):
            xi, yi, zi = pos[i, 0], pos[i, 1], pos[i, 2]
            ax = np.float32(0.0)
            ay = np.float32(0.0)
            az = np.float32(0.0)
            for j in range(n):
                dx = pos[j, 0] - xi
                dy = pos[j, 1] - yi
                dz = pos[j, 2] - zi
                r2 = dx * dx + dy * dy + dz * dz + eps2
                inv_r = np.float32(1.0) / np.sqrt(r2)
                s = mass[j] * inv_r * inv_r * inv_r
                ax += s * dx
                ay += s * dy
                az += s * dz
            acc[i, 0] = ax
            acc[i, 1] = ay
            acc[i, 2] = az

    @jit
    def matmul(a, b, c):
        p = a.shape[1]
        for i in rng(c.shape[0]):
            for j in range(c.shape[1]):
                acc = np.float32(0.0)
                for k in range(p):
                    acc += a[i, k] * b[k, j]
                c[i, j] = acc

    @jit
    def jacobi2d(a, b, iters):
        h, w = a.shape
        for i in rng(h):
            for j in range(w):
                b[i, j] = a[i, j]
        for _ in range(iters):
            for i in rng(1, h - 1):
                for j in range(1, w - 1):
                    b[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
            for i in rng(1, h - 1):
                for j in range(1, w - 1):
                    a[i, j] = 0.25 * (b[i - 1, j] + b[i + 1, j] + b[i, j - 1] + b[i, j + 1])

    @jit
    def histogram(x, bins):
        # Numba has no atomics on the CPU: count per chunk, then merge.
        nb = bins.shape[0]
        nchunks = 64
        local = np.zeros((nchunks, nb), dtype=np.int32)
        step = (x.shape[0] + nchunks - 1) // nchunks
        for c in rng(nchunks):
            for i in range(c * step, min((c + 1) * step, x.shape[0])):
                b = min(max(np.int64(x[i] * np.float32(nb)), 0), nb - 1)
                local[c, b] += 1
        for c in range(nchunks):
            for b in range(nb):
                bins[b] += local[c, b]

    @jit
    def softmax_rows(x, out):
        rows, cols = x.shape
        for r in rng(rows):
            m = np.float32(-np.inf)
            for c in range(cols):
                m = max(m, x[r, c])
            s = np.float32(0.0)
            for c in range(cols):
                e = np.exp(x[r, c] - m)
                out[r, c] = e
                s += e
            inv = np.float32(1.0) / s
            for c in range(cols):
                out[r, c] *= inv

    # The Numba-style set in benches/numba_style/ (kiln bench --dir).

    @jit
    def row_norms(x, out):
        cols = x.shape[1]
        for r in rng(x.shape[0]):
            s = np.float32(0.0)
            for c in range(cols):
                s += x[r, c] * x[r, c]
            out[r] = math.sqrt(s)

    @jit
    def sincos(x, y):
        for i in rng(x.shape[0]):
            y[i] = math.sin(x[i]) * math.cos(x[i])

    @jit
    def logistic(x, y):
        for i in rng(x.shape[0]):
            y[i] = np.float32(1.0) / (np.float32(1.0) + math.exp(np.float32(-4.0) * x[i]))

    @jit
    def stencil5(a, b):
        h, w = a.shape
        for i in rng(1, h - 1):
            for j in range(1, w - 1):
                b[i, j] = 0.2 * (a[i, j] + a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])

    @jit
    def pairwise(x, out):
        n = x.shape[0]
        for i in rng(n):
            s = 0.0
            for j in range(n):
                d = x[i] - x[j]
                s += d * d
            out[i] = s

    @jit
    def cumsum_rows(x, out):
        cols = x.shape[1]
        for r in rng(x.shape[0]):
            s = np.float32(0.0)
            for c in range(cols):
                s += x[r, c]
                out[r, c] = s

    @jit
    def tanh_rows(x, w, out):
        cols = x.shape[1]
        for r in rng(x.shape[0]):
            s = np.float32(0.0)
            for c in range(cols):
                s += x[r, c] * w[c]
            out[r] = math.tanh(s)

    return dict(saxpy=saxpy, triad=triad, scale_inplace=scale_inplace, sum_sq=sum_sq, dot=dot,
                minmax=minmax, sum_of_squares_range=sum_of_squares_range, mandelbrot=mandelbrot,
                blackscholes=blackscholes, nbody=nbody, matmul=matmul, jacobi2d=jacobi2d,
                histogram=histogram, softmax_rows=softmax_rows, row_norms=row_norms, sincos=sincos,
                logistic=logistic, stencil5=stencil5, pairwise=pairwise, cumsum_rows=cumsum_rows,
                tanh_rows=tanh_rows)


def main():
    kernel, folder, repeats, target = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    with open(os.path.join(folder, "scalars.json")) as f:
        spec = json.load(f)
    # spec["params"]: [[name, kind, dtype]]; kind is "scalar" or "array".
    originals = []
    for name, kind, dtype in spec["params"]:
        if kind == "array":
            originals.append((name, np.load(os.path.join(folder, name + ".npy"))))
        else:
            originals.append((name, np.dtype(dtype).type(spec["scalars"][name])))
    report = {}
    for mode, parallel in (("numba", False), ("numba-parallel", True)):
        fns = make(parallel)
        if kernel not in fns:
            report[mode] = {"error": "no Numba version of " + kernel}
            continue
        fn = fns[kernel]

        def fresh():
            return [v.copy() if isinstance(v, np.ndarray) else v for _, v in originals]

        args = fresh()
        t0 = time.perf_counter()
        result = fn(*args)
        compile_s = time.perf_counter() - t0
        for (name, kind, _), v in zip(spec["params"], args):
            if kind == "array":
                np.save(os.path.join(folder, mode + "__" + name + ".npy"), v)
        # Each timed call starts from the inputs restored in place, as kiln's
        # and the Rust baselines' runs do: the same host copy before every
        # runner's launch, so the arrays sit in the same caches and pages.
        times = []
        start = time.perf_counter()
        while len(times) < 3 or (len(times) < repeats and time.perf_counter() - start < target):
            for (_, v), a in zip(originals, args):
                if isinstance(a, np.ndarray):
                    np.copyto(a, v)
            t = time.perf_counter()
            fn(*args)
            times.append(time.perf_counter() - t)
        report[mode] = {"compile_seconds": compile_s, "seconds": float(np.median(times)), "runs": len(times),
                        "result": None if result is None else float(result)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
