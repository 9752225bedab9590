#!/usr/bin/env python3
"""CuPy versions of the kernels in kernels/, for `kiln bench` on NVIDIA GPUs.

Usage: cupy_peer.py KERNEL DIR REPEATS TARGET_SECONDS

The same protocol as numba_peer.py: DIR holds one NAME.npy per array
parameter and scalars.json. The kernels are CuPy elementwise and reduction
kernels (cupy.ElementwiseKernel, cupy.ReductionKernel), CuPy's own
reductions and `@` where that is the CuPy idiom. Two modes:

- "cupy": arrays already on the GPU (copied there untimed), each run
  synchronised: the kernel's cost, like kiln's "resident" column;
- "cupy-copy": each run copies the inputs to the GPU and the outputs back,
  like kiln's median with host arrays.

Prints one JSON line {"cupy": {...}, "cupy-copy": {...}, "device": NAME}.
"""
import json
import os
import sys
import time

import cupy as cp
import numpy as np


def kernels():
    saxpy = cp.ElementwiseKernel("T a, T x", "T y", "y = a * x + y", "kiln_saxpy")
    triad = cp.ElementwiseKernel("T b, T c, T s", "T a", "a = b + s * c", "kiln_triad")
    scale = cp.ElementwiseKernel("T s", "T x", "x = x * s", "kiln_scale_inplace")
    sum_sq = cp.ReductionKernel("T x", "T y", "x * x", "a + b", "y = a", "0", "kiln_sum_sq")
    dot = cp.ReductionKernel("T x, T y", "T z", "x * y", "a + b", "z = a", "0", "kiln_dot")
    bs = cp.ElementwiseKernel(
        "float64 spot, float64 strike, float64 years, float64 rate, float64 vol",
        "float64 call, float64 put",
        """
        double s = 10.0 + 90.0 * spot;
        double k = 10.0 + 90.0 * strike;
        double t = 0.1 + 1.9 * years;
        double vst = vol * sqrt(t);
        double d1 = (log(s / k) + (rate + 0.5 * vol * vol) * t) / vst;
        double d2 = d1 - vst;
        double dk = k * exp(-rate * t);
        double c1 = 0.5 * (1.0 + erf(d1 / sqrt(2.0)));
        double c2 = 0.5 * (1.0 + erf(d2 / sqrt(2.0)));
        double m1 = 0.5 * (1.0 + erf(-d1 / sqrt(2.0)));
        double m2 = 0.5 * (1.0 + erf(-d2 / sqrt(2.0)));
        call = s * c1 - dk * c2;
        put = dk * m2 - s * m1;
        """,
        "kiln_blackscholes",
    )
    hist = cp.ElementwiseKernel(
        "float32 x, int64 nb",
        "raw int32 bins",
        """
        float v = x * (float)nb;
        long long b = isnan(v) ? 0 : (v < 0.0f ? 0 : (v >= (float)nb ? nb - 1 : (long long)v));
        atomicAdd(&bins[b], 1);
        """,
        "kiln_histogram",
    )

    def run_saxpy(a, x, y):
        saxpy(a, x, y, y)

    def run_triad(a, b, c, s):
        triad(b, c, s, a)

    def run_scale(x, s):
        scale(s, x, x)

    def run_minmax(x, out):
        out[0] = x.min()
        out[1] = x.max()
        return out[1] - out[0]

    def run_bs(spot, strike, years, rate, vol, call, put):
        bs(spot, strike, years, rate, vol, call, put)

    def run_hist(x, bins):
        hist(x, np.int64(bins.shape[0]), bins)

    def run_matmul(a, b, c):
        cp.matmul(a, b, out=c)

    def run_softmax(x, out):
        e = cp.exp(x - x.max(axis=1, keepdims=True))
        out[...] = e / e.sum(axis=1, keepdims=True)

    return dict(
        saxpy=run_saxpy,
        triad=run_triad,
        scale_inplace=run_scale,
        sum_sq=lambda x: sum_sq(x),
        dot=lambda x, y: dot(x, y),
        minmax=run_minmax,
        blackscholes=run_bs,
        histogram=run_hist,
        matmul=run_matmul,
        softmax_rows=run_softmax,
    )


def main():
    kernel, folder, repeats, target = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    with open(os.path.join(folder, "scalars.json")) as f:
        spec = json.load(f)
    originals = []
    for name, kind, dtype in spec["params"]:
        if kind == "array":
            originals.append((name, np.load(os.path.join(folder, name + ".npy"))))
        else:
            originals.append((name, np.dtype(dtype).type(spec["scalars"][name])))
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"]
    report = {"device": name.decode() if isinstance(name, bytes) else str(name)}
    fns = kernels()
    if kernel not in fns:
        for mode in ("cupy", "cupy-copy"):
            report[mode] = {"error": "no CuPy version of " + kernel}
        print(json.dumps(report))
        return
    fn = fns[kernel]

    def to_device():
        return [cp.asarray(v) if isinstance(v, np.ndarray) else v for _, v in originals]

    def scalar(result):
        if result is None:
            return None
        return float(cp.asnumpy(result)) if isinstance(result, cp.ndarray) else float(result)

    for mode in ("cupy", "cupy-copy"):
        args = to_device()
        t0 = time.perf_counter()
        result = fn(*args)
        cp.cuda.Device().synchronize()
        compile_s = time.perf_counter() - t0
        for (pname, kind, _), v in zip(spec["params"], args):
            if kind == "array":
                np.save(os.path.join(folder, mode + "__" + pname + ".npy"), cp.asnumpy(v))
        times = []
        start = time.perf_counter()
        while len(times) < 3 or (len(times) < repeats and time.perf_counter() - start < target):
            if mode == "cupy":
                # Fresh inputs on the device (copied there untimed).
                args = to_device()
                cp.cuda.Device().synchronize()
                t = time.perf_counter()
                fn(*args)
                cp.cuda.Device().synchronize()
                times.append(time.perf_counter() - t)
            else:
                t = time.perf_counter()
                args = to_device()
                r = fn(*args)
                for (pname, kind, _), v in zip(spec["params"], args):
                    if kind == "array":
                        cp.asnumpy(v)
                scalar(r)
                cp.cuda.Device().synchronize()
                times.append(time.perf_counter() - t)
        report[mode] = {
            "compile_seconds": compile_s,
            "seconds": float(np.median(times)),
            "runs": len(times),
            "result": scalar(result),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
