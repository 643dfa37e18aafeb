"""Threads: sessions on one model agree, one session is safe to share, the GIL is released while
encore computes, and nothing leaks over many calls."""

import gc
import os
import sys
import threading
import time

import numpy as np

import encore


def batch(model, rows, seq, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, model.config["vocab_size"], size=(rows, seq)).astype(np.int32)
    mask = np.ones((rows, seq), dtype=np.int32)
    mask[::3, seq // 2:] = 0
    return ids, mask


def test_two_threads_one_model_same_outputs(models):
    model = encore.Model(models("langid"))
    inputs = [batch(model, 4, 24, s) for s in range(6)]
    expected = [model.session().run(i, m)["logits"] for i, m in inputs]
    shared = model.session()
    results = {}

    def work(name, session):
        for k in range(3):
            for j, (i, m) in enumerate(inputs):
                results[(name, k, j)] = session.run(i, m)["logits"]

    threads = [threading.Thread(target=work, args=("own0", model.session())),
               threading.Thread(target=work, args=("own1", model.session())),
               threading.Thread(target=work, args=("shared0", shared)),
               threading.Thread(target=work, args=("shared1", shared))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 * 3 * len(inputs)
    for (name, k, j), logits in results.items():
        np.testing.assert_array_equal(logits, expected[j], err_msg=f"{name} round {k} batch {j}")


def test_gil_released_during_run(models):
    """A pure-Python thread keeps counting while a long run is in progress."""
    model = encore.Model(models("langid"))
    session = model.session()
    ids, mask = batch(model, 512, model.max_length, 7)
    session.run(ids, mask)  # plan the buffers first
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(time.perf_counter())

    t = threading.Thread(target=count)
    t.start()
    try:
        start = time.perf_counter()
        while time.perf_counter() - start < 0.05:  # let the counter get going
            pass
        t0 = time.perf_counter()
        session.run(ids, mask)
        t1 = time.perf_counter()
    finally:
        stop.set()
        t.join()
    assert t1 - t0 > 0.02, "the run is too short to tell"
    # Ticks strictly inside the run (its first and last 10% excluded): none if the GIL were held.
    lo, hi = t0 + 0.1 * (t1 - t0), t1 - 0.1 * (t1 - t0)
    inside = sum(1 for x in ticks if lo < x < hi)
    assert inside > 100, f"{inside} ticks during a {1000 * (t1 - t0):.1f} ms run"


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_no_leaks_over_1000_runs(models):
    model = encore.Model(models("langid"))
    session = model.session()
    ids, mask = batch(model, 32, model.max_length, 3)
    out_bytes = sum(v.nbytes for v in session.run(ids, mask).values())
    texts = ["Schmetterling", "butterfly", "mariposa"]
    for _ in range(100):
        session.run(ids, mask)
        session.classify(texts)
    before = rss_bytes()
    objects = len(gc.get_objects())
    ids_refs, mask_refs = sys.getrefcount(ids), sys.getrefcount(mask)
    for _ in range(1000):
        session.run(ids, mask)
        session.classify(texts)
    growth = rss_bytes() - before
    assert sys.getrefcount(ids) == ids_refs and sys.getrefcount(mask) == mask_refs
    # A leak of the outputs alone would be 1000 x out_bytes.
    assert growth < max(4 << 20, 1000 * out_bytes // 10), f"RSS grew {growth} bytes over 1000 runs ({out_bytes} B each)"
    assert len(gc.get_objects()) < objects + 1000
