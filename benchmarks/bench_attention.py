"""Time and peak memory of the reference attention against a three-line naive formula.

Run: ``python benchmarks/bench_attention.py [--sizes 256 1024 4096 16384] [--repeats 5]``
(or ``make bench``). All variants are measured side by side in one run, their
calls interleaved so that machine noise hits them alike; the table gives
medians and ratios to the naive formula. Float32, one head, d = 64.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc

import numpy as np

from attention_ref import blockwise_attention, scaled_dot_product_attention


def naive(Q, K, V):
    """The three-line formula every tutorial writes: softmax(Q Kᵀ / √d) V."""
    s = Q @ K.T / np.float32(np.sqrt(Q.shape[-1]))
    w = np.exp(s - s.max(axis=-1, keepdims=True))
    return (w / w.sum(axis=-1, keepdims=True)) @ V


VARIANTS = {
    "naive": naive,
    "scaled_dot_product_attention": lambda Q, K, V: scaled_dot_product_attention(Q, K, V),
    "blockwise_attention": lambda Q, K, V: blockwise_attention(Q, K, V)[0],
}


def peak_bytes(fn, *args):
    """Peak traced allocation (bytes) of one call, beyond what existed before it."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def measure(n, repeats, d=64, seed=0):
    """Median seconds and peak bytes of every variant at sequence length n."""
    rng = np.random.default_rng(seed)
    Q, K, V = (rng.standard_normal((n, d), dtype=np.float32) for _ in range(3))
    for fn in VARIANTS.values():  # warm-up, and a check that they agree
        fn(Q[:64], K[:64], V[:64])
    np.testing.assert_allclose(blockwise_attention(Q[:300], K, V)[0],
                               naive(Q[:300], K, V), rtol=1e-3, atol=1e-5)
    times = {name: [] for name in VARIANTS}
    for r in range(repeats):
        names = list(VARIANTS)
        for name in names[r % len(names):] + names[: r % len(names)]:  # rotate the order
            start = time.perf_counter()
            VARIANTS[name](Q, K, V)
            times[name].append(time.perf_counter() - start)
    peaks = {name: peak_bytes(fn, Q, K, V) for name, fn in VARIANTS.items()}
    return {name: (statistics.median(times[name]), peaks[name]) for name in VARIANTS}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096, 16384])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print("| n | variant | median time (s) | × naive | peak memory (MiB) | ÷ naive |")
    print("|---|---|---|---|---|---|")
    for n in args.sizes:
        results = measure(n, args.repeats if n < 16384 else max(3, args.repeats // 2))
        t0, m0 = results["naive"]
        for name, (t, m) in results.items():
            print(f"| {n} | {name} | {t:.4f} | {t / t0:.2f} | {m / 2**20:.1f} | 1/{m0 / max(m, 1):.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
