"""How fast does the book train? One run of the testbed, measured five ways side by side.

    python benchmarks/engine.py            # the full benchmark, about five minutes
    python benchmarks/engine.py --short    # fewer epochs, for a quick look

The reference run is the book's default: the testbed MLP, SGD with learning
rate 0.01, batch size 32, 200 epochs, validation on the test set after every
epoch. It is trained by

1. ``model.fit`` on NumPy arrays, as the classic tutorials do;
2. ``model.fit`` on a cached ``tf.data`` pipeline;
3. the package's path, ``lrnotes.train`` (one run, no record cached); warm,
   as inside a chapter, where runs of the same shapes came before and their
   traced graph is reused, and cold (the first run of its shapes in a
   process, which traces the graph);
4. the package's sweeps, ``lrnotes.sweep`` without cache: five seeds of the
   reference run, and the learning-rate sweep of chapter 1 (8 rates x 5 seeds);
5. the runs of chapter 4 (``ReduceLROnPlateau`` with four patiences x 5
   seeds), side by side with a callback per row, and one seed at a time
   through a real ``keras.Model`` as they trained before callbacks stacked;
6. chapter 8's convolutional network, five seeds side by side and one seed
   at a time through a real ``keras.Model``;
7. the same arithmetic written in plain NumPy (forward, backward, SGD update,
   evaluation), one run;
8. chapter 1's SGD sweep (8 rates x 5 seeds, no cache) in this process and
   on two local worker processes, then in this process and on a Dask
   ``LocalCluster`` of two worker processes, all warm, timed in turn; what
   starting the workers costs; and how much two busy processes slow each
   other on this machine (``python benchmarks/engine.py --workers`` runs
   this section alone).

It prints each time, the ratios, each target with its figure, the peak
memory of the process, and how the package's cost grows with the number of
epochs and of seeds. Times on a shared or throttled machine are noisy:
compare the ratios of runs made in the same invocation. One seed alone and
the NumPy reference are timed in alternation, so both see the same load.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np

import lrnotes as ln
from lrnotes import keras, tf  # through lrnotes: TensorFlow starts quietly, one thread, op determinism

SEEDS = [0, 1, 2, 3, 4]
RATES = [1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7]


def timed(function, repeats: int = 1) -> tuple[float, object]:
    """Median wall time over ``repeats`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def fit_numpy(epochs: int) -> float:
    blobs = ln.load_blobs()
    model = ln.testbed_model(seed=0)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(blobs.x_train, blobs.y_train, batch_size=32, epochs=epochs, verbose=0,
                        validation_data=(blobs.x_test, blobs.y_test))
    return history.history["val_accuracy"][-1]


def fit_tf_data(epochs: int) -> float:
    blobs = ln.load_blobs()
    model = ln.testbed_model(seed=0)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    train = tf.data.Dataset.from_tensor_slices((blobs.x_train, blobs.y_train)).cache().shuffle(500, seed=0)
    train = train.batch(32).prefetch(tf.data.AUTOTUNE)
    test = tf.data.Dataset.from_tensor_slices((blobs.x_test, blobs.y_test)).batch(500).cache()
    history = model.fit(train, epochs=epochs, verbose=0, validation_data=test, shuffle=False)
    return history.history["val_accuracy"][-1]


def numpy_reference(epochs: int, seed: int = 0, batch: int = 32, lr: float = 0.01) -> float:
    """The reference run in plain NumPy (He-uniform and Glorot-uniform initialisation)."""
    blobs = ln.load_blobs()
    x_train, y_train, x_test, y_test = blobs.x_train, blobs.y_train, blobs.x_test, blobs.y_test
    x_val, y_val = blobs.x_val, blobs.y_val
    rng = np.random.default_rng(seed)
    limit1, limit2 = np.sqrt(6 / 2), np.sqrt(6 / 53)
    w1 = rng.uniform(-limit1, limit1, (2, 50)).astype(np.float32)
    b1 = np.zeros(50, np.float32)
    w2 = rng.uniform(-limit2, limit2, (50, 3)).astype(np.float32)
    b2 = np.zeros(3, np.float32)
    accuracy = 0.0
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        for start in range(0, len(x_train), batch):
            index = order[start : start + batch]
            xb, yb = x_train[index], y_train[index]
            hidden = xb @ w1 + b1
            active = np.maximum(hidden, 0)
            logits = active @ w2 + b2
            logits -= logits.max(axis=1, keepdims=True)
            probabilities = np.exp(logits)
            probabilities /= probabilities.sum(axis=1, keepdims=True)
            grad_logits = (probabilities - yb) / len(index)
            grad_w2, grad_b2 = active.T @ grad_logits, grad_logits.sum(axis=0)
            grad_hidden = (grad_logits @ w2.T) * (hidden > 0)
            grad_w1, grad_b1 = xb.T @ grad_hidden, grad_hidden.sum(axis=0)
            w1 -= lr * grad_w1
            b1 -= lr * grad_b1
            w2 -= lr * grad_w2
            b2 -= lr * grad_b2
        for xs, ys in ((x_train, y_train), (x_val, y_val), (x_test, y_test)):  # evaluate like the package
            logits = np.maximum(xs @ w1 + b1, 0) @ w2 + b2
            shifted = logits - logits.max(axis=1, keepdims=True)
            _ = (np.log(np.exp(shifted).sum(axis=1)) - (shifted * ys).sum(axis=1)).mean()
            accuracy = float((logits.argmax(1) == ys.argmax(1)).mean())
    return accuracy


def package_one_run(epochs: int) -> float:
    record = ln.train(ln.RunConfig(learning_rate=0.01, epochs=epochs), seed=0)
    return float(record["test_accuracy"].iloc[-1])


def package_one_run_cold(epochs: int) -> float:
    """One run that traces its graph, as the first run of its shapes in a process does."""
    clear = getattr(importlib.import_module("lrnotes.engine_stacked"), "clear_traces", None)  # absent before graphs were kept
    if clear is not None:
        clear()
    return package_one_run(epochs)


def alternating(first, second, repeats: int) -> tuple[float, float]:
    """Median times of two functions called in turn (so a change of load hits both alike)."""
    times_first, times_second = [], []
    for _ in range(repeats):
        times_first.append(timed(first)[0])
        times_second.append(timed(second)[0])
    return statistics.median(times_first), statistics.median(times_second)


def peak_memory_gb() -> float:
    """The peak resident memory of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024**3 if sys.platform == "darwin" else 1024**2)


def package_sweep(epochs: int, seeds: list[int], rates: list[float]) -> int:
    configs = ln.grid(ln.RunConfig(epochs=epochs), learning_rate=rates)
    records = ln.sweep(configs, seeds, by="lr", cache=False, progress=False, workers=1)  # this process, as ever
    return records["seed"].nunique() * records["lr"].nunique()


def plateau_configs(epochs: int) -> list:
    """Chapter 4's runs: ReduceLROnPlateau with four patiences (one callback copy per run)."""
    base = ln.RunConfig(learning_rate=0.01, epochs=epochs)
    return [base.replace(callbacks=[keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=0.1, patience=patience, min_delta=1e-7)]) for patience in (2, 5, 10, 15)]


def callbacks_side_by_side(epochs: int) -> int:
    """The plateau runs, every patience and seed in one stack, each row with its own callback."""
    records = ln.train_stacked(plateau_configs(epochs), SEEDS)
    return sum(record["seed"].nunique() for record in records)


def callbacks_one_at_a_time(epochs: int) -> int:
    """The same runs through a real keras.Model, one seed at a time (before callbacks could stack)."""
    from lrnotes.engine_keras import KerasRun

    for config in plateau_configs(epochs):
        for seed in SEEDS:
            KerasRun(config, seed).run()
    return 4 * len(SEEDS)


def cnn_config(epochs: int):
    """Chapter 8's network on the 8x8 digit images: SGD with momentum, batches of 64."""
    return ln.RunConfig(data="digits_images", model=ln.CNN(filters=(8, 16), dense=32), learning_rate=0.03,
                        options={"momentum": 0.9}, batch_size=64, epochs=epochs)


def cnn_side_by_side(epochs: int) -> int:
    """Five seeds of the CNN in one stack, each row through its own convolutions."""
    return ln.train_many(cnn_config(epochs), SEEDS)["seed"].nunique()


def cnn_one_at_a_time(epochs: int) -> int:
    """The same runs through a real keras.Model, one seed at a time (before CNNs could stack)."""
    from lrnotes.engine_keras import KerasRun

    for seed in SEEDS:
        KerasRun(cnn_config(epochs), seed).run()
    return len(SEEDS)


def workers_sweep(epochs: int, rates: list[float] = RATES, **where) -> float:
    """Chapter 1's SGD sweep (no cache) trained ``where`` (``workers=`` or ``scheduler=``); its wall time."""
    configs = ln.grid(ln.RunConfig(optimizer="sgd", epochs=epochs), learning_rate=rates)
    start = time.perf_counter()
    ln.sweep(configs, SEEDS, by="lr", cache=False, progress=False, **where)
    return time.perf_counter() - start


def interleaved(ways: dict[str, dict], epochs: int, repeats: int) -> dict[str, list[float]]:
    """Each way's wall times for the sweep, the ways timed in turn ``repeats`` times (after one warm-up each)."""
    for where in ways.values():  # warm: every process has traced the graphs of its pieces
        workers_sweep(epochs, **where)
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeats):  # in turn, so a change of load hits all alike
        for name, where in ways.items():
            times[name].append(workers_sweep(epochs, **where))
    return times


def speed_table(times: dict[str, list[float]], repeats: int) -> dict[str, float]:
    """Print each way's median time and its speed against the first way; returns the paired speed-ups.

    A way's speed-up is the median, over the repeats, of the first way's time
    divided by this way's time in the same repeat: the two were timed one
    after the other, so a change in the machine's speed (a shared host's
    clock varies by tens of per cent here) hits both.
    """
    first = next(iter(times))
    print(f"  {'where':32} {'median s':>9} {'speed vs 1 worker':>18}   (each of {repeats} runs, s)")
    speedups = {}
    for name, values in times.items():
        speedups[name] = statistics.median(one / this for one, this in zip(times[first], values))
        print(f"  {name:32} {statistics.median(values):9.2f} {speedups[name]:17.2f}x   "
              + " ".join(f"{value:.2f}" for value in values))
    return speedups


def two_busy_processes(seconds: float = 1.0) -> float:
    """How much work two processes that share nothing do at once on this machine, against one alone.

    Each process spins a pure-Python loop; the ratio (2.0 on two idle cores
    that run at full speed together) is the ceiling that any two workers
    meet on this machine, whatever they run.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    ratios = []
    with context.Pool(2) as pool:
        pool.map(_spin, [0.2, 0.2])
        for _ in range(3):  # in turn, as the sweeps
            alone = pool.apply(_spin, (seconds,))
            ratios.append(sum(pool.map(_spin, [seconds, seconds])) / alone)
    return statistics.median(ratios)


def _spin(seconds: float) -> int:
    """Loop iterations done in ``seconds`` of wall time."""
    done, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(10_000):
            done += 1
    return done


def workers_section(epochs: int, repeats: int = 5) -> float:
    """Section 8: the sweep on 1 and 2 local workers and a two-worker LocalCluster; returns the 2-worker speed-up.

    The local workers are timed before the Dask cluster starts: an idle
    ``LocalCluster`` (its scheduler, nannies and workers) keeps about a
    sixth of a core busy, which would slow two workers that need both cores
    but not one worker, which leaves a core free.
    """
    from joblib.externals.loky import get_reusable_executor

    print(f"\nchapter 1's SGD sweep, 8 rates x 5 seeds, {epochs} epochs, no cache, on {os.cpu_count()} cores:")
    get_reusable_executor().shutdown(wait=True, kill_workers=True)  # start-up from nothing
    cold = workers_sweep(2, workers=2)  # starts two workers: each imports TensorFlow and traces its piece
    warm = workers_sweep(2, workers=2)
    print(f"  start-up of the local workers (started side by side): {cold - warm:.2f} s "
          f"(first 2-epoch sweep {cold:.2f} s, the same again warm {warm:.2f} s)")
    # Two workers each train one half of the 40-row stack (4 rates x 5 seeds): one half alone, in this
    # process, is the time two workers would take on two idle cores; the 40-row stack over it, their ceiling.
    local = interleaved({"1 worker (this process)": {"workers": 1}, "2 local workers (loky)": {"workers": 2},
                         "one half (20 runs), 1 worker": {"workers": 1, "rates": RATES[:4]}}, epochs, repeats)
    speedups = speed_table(local, repeats)
    speedup = speedups["2 local workers (loky)"]
    machine = two_busy_processes()
    print(f"2 warm local workers vs 1: {speedup:.2f}x faster (target: at least 1.7x on 2 cores); "
          f"ceiling of the split, 40 rows / 20 rows in one process: {speedups['one half (20 runs), 1 worker']:.2f}x; "
          f"two busy processes on this machine do {machine:.2f}x the work of one")

    from distributed import Client, LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0")
    client = Client(cluster)
    started = time.perf_counter() - start
    cold_cluster = workers_sweep(2, scheduler=client)
    warm_cluster = workers_sweep(2, scheduler=client)
    print(f"  start-up of a two-worker LocalCluster: {started:.2f} s to start, then "
          f"{cold_cluster - warm_cluster:.2f} s more for its first sweep (TensorFlow's import, traces)")
    dask = interleaved({"1 worker (this process)": {"workers": 1}, "2-worker Dask LocalCluster": {"scheduler": client}},
                       epochs, max(3, repeats - 2))
    speed_table(dask, max(3, repeats - 2))
    client.close()
    cluster.close()
    print(f"load average while it ran (1, 5, 15 min): {', '.join(f'{load:.2f}' for load in os.getloadavg())}")
    return speedup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="50 epochs instead of 200, no scaling tables")
    parser.add_argument("--workers", action="store_true", help="only section 8: the sweep on 1 and 2 workers")
    arguments = parser.parse_args(argv)
    epochs = 50 if arguments.short else 200
    if arguments.workers:
        workers_section(epochs)
        return 0

    print(f"lrnotes {ln.__version__}, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPU cores, "
          f"TensorFlow threads: {os.environ.get('LRNOTES_THREADS', '1')}")
    print(f"reference run: testbed MLP, SGD 0.01, batch 32, {epochs} epochs, validation every epoch\n")

    # warm-up: build, trace and import everything once, so no timing pays one-off costs
    package_one_run(2)
    package_sweep(2, SEEDS, [0.01])
    callbacks_side_by_side(2)
    callbacks_one_at_a_time(1)
    cnn_side_by_side(1)
    cnn_one_at_a_time(1)
    fit_numpy(1)
    numpy_reference(1)

    rows = []
    t_fit, _ = timed(lambda: fit_numpy(epochs))
    rows.append(("model.fit on NumPy arrays (tutorial style)", t_fit, 1))
    t_data, _ = timed(lambda: fit_tf_data(epochs))
    rows.append(("model.fit on a cached tf.data pipeline", t_data, 1))
    # warm: the warm-up trained runs of these shapes, as earlier cells of a chapter do
    t_numpy, t_ours = alternating(lambda: numpy_reference(epochs), lambda: package_one_run(epochs), repeats=5)
    rows.append(("lrnotes.train, one run (warm)", t_ours, 1))
    t_cold, _ = timed(lambda: package_one_run_cold(epochs), repeats=3)
    rows.append(("lrnotes.train, one run (cold: traces)", t_cold, 1))
    t_sweep5, _ = timed(lambda: package_sweep(epochs, SEEDS, [0.01]), repeats=3)
    rows.append(("lrnotes.sweep, 5 seeds of the reference run", t_sweep5, 5))
    t_sweep40, _ = timed(lambda: package_sweep(epochs, SEEDS, RATES), repeats=3)
    rows.append(("lrnotes.sweep, chapter 1: 8 rates x 5 seeds", t_sweep40, 40))
    t_cb_stack, _ = timed(lambda: callbacks_side_by_side(epochs), repeats=3)
    rows.append(("ReduceLROnPlateau, 4 patiences x 5 seeds, stacked", t_cb_stack, 20))
    t_cb_alone, _ = timed(lambda: callbacks_one_at_a_time(epochs))
    rows.append(("the same, one seed at a time (keras.Model)", t_cb_alone, 20))
    cnn_epochs = max(epochs // 10, 5)
    t_cnn_stack, _ = timed(lambda: cnn_side_by_side(cnn_epochs), repeats=3)
    rows.append((f"CNN on digit images, 5 seeds, {cnn_epochs} epochs, stacked", t_cnn_stack, 5))
    t_cnn_alone, _ = timed(lambda: cnn_one_at_a_time(cnn_epochs))
    rows.append(("the same, one seed at a time (keras.Model)", t_cnn_alone, 5))
    rows.append(("plain NumPy, one run", t_numpy, 1))

    print(f"{'way of training':48} {'runs':>5} {'total s':>9} {'s per run':>10} {'fit/this':>9} {'this/NumPy':>11}")
    for name, seconds, runs in rows:
        per_run = seconds / runs
        print(f"{name:48} {runs:5d} {seconds:9.2f} {per_run:10.3f} {t_fit / per_run:9.1f} {per_run / t_numpy:11.2f}")
    print()
    print(f"one seed alone (warm) / NumPy one run: {t_ours / t_numpy:.2f} (target: at most 2.0)")
    print(f"one seed alone (cold) / NumPy one run: {t_cold / t_numpy:.2f}")
    print(f"package vs tutorial fit (one run): {t_fit / t_ours:.1f}x faster (target: at least 20x)")
    print(f"5-seed sweep, cost per run / NumPy one run: {t_sweep5 / 5 / t_numpy:.2f} (target: at most 1.0)")
    print(f"chapter-1 sweep, cost per run / NumPy one run: {t_sweep40 / 40 / t_numpy:.2f}")
    print(f"runs with callbacks, stacked vs one at a time: {t_cb_alone / t_cb_stack:.1f}x faster "
          f"(cost per run / NumPy one run: {t_cb_stack / 20 / t_numpy:.2f})")
    print(f"CNN runs, stacked vs one at a time: {t_cnn_alone / t_cnn_stack:.1f}x faster")
    print(f"peak memory of this process: {peak_memory_gb():.2f} GB (target: under 2 GB per kernel)")
    workers_section(epochs)
    if arguments.short:
        return 0

    print("\ncost against the number of epochs (one run, lrnotes.train):")
    for count in (50, 100, 200, 400):
        seconds, _ = timed(lambda count=count: package_one_run(count))
        print(f"  {count:4d} epochs: {seconds:6.2f} s  ({seconds / count * 1000:5.2f} ms per epoch)")
    print("\ncost against the number of seeds trained side by side (lrnotes.sweep, 200 epochs, no cache):")
    for count in (1, 2, 5, 10, 20, 40):
        seconds, _ = timed(lambda count=count: package_sweep(200, list(range(count)), [0.01]))
        print(f"  {count:3d} seeds: {seconds:6.2f} s  ({seconds / count:6.3f} s per run)")
    print(f"\npeak memory of this process: {peak_memory_gb():.2f} GB (target: under 2 GB per kernel)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
