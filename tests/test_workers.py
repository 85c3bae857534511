"""Sweeps on every core and on a Dask cluster: same records, same cache, clear failures (issue 16)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import pytest

import lrnotes as ln
import lrnotes.sweeps as sweeps
import lrnotes.workers as workers
from lrnotes import keras
from lrnotes.cache import ResultCache
from lrnotes.execute import kernel_environment

# The callbacks below travel to the workers by value (the workers cannot import this test module).
cloudpickle.register_pickle_by_value(sys.modules[__name__])

DETERMINISTIC = [column for column in ln.RECORD_COLUMNS if column != "seconds"]
#: One stack of 3 rates x 3 seeds: two workers split it into two pieces.
CONFIGS = ln.grid(ln.RunConfig(epochs=3), learning_rate=[0.1, 0.01, 0.001])
SEEDS = [0, 1, 2]


class FailIfMarked(keras.callbacks.Callback):
    """While ``marker`` exists: wait until ``cache`` holds ``wait_for`` entries, then raise or kill the process."""

    def __init__(self, marker: str, cache: str, wait_for: int, how: str):
        super().__init__()
        self.marker, self.cache, self.wait_for, self.how = marker, cache, wait_for, how

    def on_epoch_end(self, epoch, logs=None):
        if not os.path.exists(self.marker):
            return
        deadline = time.monotonic() + 120
        while len(list(Path(self.cache).rglob("*.json"))) < self.wait_for and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.how == "exit":
            os._exit(3)
        raise RuntimeError("boom in the piece")


def assert_same_records(expected, got):
    """Bit for bit equal, except the wall-clock ``seconds``; the message names the columns that differ."""
    expected, got = expected[["lr", *DETERMINISTIC]], got[["lr", *DETERMINISTIC]]
    differing = [column for column in expected.columns if not expected[column].equals(got[column])]
    assert not differing and expected.equals(got), (differing, expected[differing], got[differing])


@pytest.fixture(scope="module")
def worker_cache(tmp_path_factory):
    """The cache folder the cluster's workers would use by default: it must stay empty."""
    return tmp_path_factory.mktemp("workers") / "cache"


@pytest.fixture(scope="module")
def cluster(worker_cache):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0",
                                  env={"LRNOTES_CACHE_DIR": str(worker_cache)}) as local:
        with distributed.Client(local) as client:
            yield client


def test_split_gives_at_least_as_many_pieces_as_workers():
    assert len(workers.split_pieces([(list(range(3)), SEEDS)], 2)) == 2
    assert workers.split_pieces([([0, 1, 2], [0, 1, 2])], 1) == [([0, 1, 2], [0, 1, 2])]


def test_serial_local_pool_and_dask_cluster_give_identical_records(tmp_path, cluster, worker_cache, counting):
    serial = ln.sweep(CONFIGS, SEEDS, by="lr", cache=False, workers=1)
    assert sum(counting) == 9  # trained here
    local = ln.sweep(CONFIGS, SEEDS, by="lr", cache=tmp_path / "local", workers=2)
    on_cluster = ln.sweep(CONFIGS, SEEDS, by="lr", cache=tmp_path / "dask", scheduler=cluster)
    assert sum(counting) == 9  # the pools trained, not this process
    assert_same_records(serial, local)
    assert_same_records(serial, on_cluster)
    # stored under this process's keys, one entry per run: a serial rerun reads them, trains nothing
    for folder in ("local", "dask"):
        cache = ResultCache(tmp_path / folder)
        assert len(cache) == 9
        assert all(cache.get(ln.run_key(config, seed)) is not None for config in CONFIGS.values() for seed in SEEDS)
        again = ln.sweep(CONFIGS, SEEDS, by="lr", cache=tmp_path / folder, workers=1)
        assert sum(counting) == 9
        assert_same_records(serial, again)
    assert not worker_cache.exists()  # the workers wrote nothing: this process alone writes the cache


def test_local_workers_are_started_once_and_kept_for_the_next_sweeps():
    ln.sweep(CONFIGS, SEEDS, by="lr", cache=False, workers=2)
    pool = workers._local_executor(2)
    started = set(pool._processes)
    ln.sweep(CONFIGS, SEEDS, by="lr", cache=False, workers=2)
    assert workers._local_executor(2) is pool and set(pool._processes) == started and len(started) == 2


def test_the_page_s_dask_commands_start_a_cluster_whose_records_go_under_its_own_key(tmp_path, monkeypatch, counting):
    """``dask scheduler`` and ``dask worker``, as on the page; the workers' environment differs from this
    process's in a setting that changes no arithmetic (``LRNOTES_THREADS=1`` set rather than defaulted), as
    another machine's would."""
    pytest.importorskip("distributed")
    if "LRNOTES_THREADS" in os.environ:
        pytest.skip("needs LRNOTES_THREADS unset in the test process")
    dask = Path(sys.executable).with_name("dask")
    log = tmp_path / "scheduler.log"
    started = []
    try:
        with log.open("w") as stream:
            started.append(subprocess.Popen([str(dask), "scheduler", "--port", "0", "--dashboard-address", ":0"],
                                            stdout=stream, stderr=stream))
        address = None
        deadline = time.monotonic() + 60
        while address is None and time.monotonic() < deadline:  # "Scheduler at:   tcp://10.0.0.5:40123"
            match = re.search(r"Scheduler at:\s+(tcp://\S+)", log.read_text())
            address = match and match[1]
            time.sleep(0.2)
        assert address, "dask scheduler printed no address"
        started.append(subprocess.Popen([str(dask), "worker", address, "--nworkers", "1", "--nthreads", "1",
                                         "--dashboard-address", ":0"], env={**os.environ, "LRNOTES_THREADS": "1"},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        client = workers.connect(address)
        client.wait_for_workers(1, timeout=60)
        here = ln.environment.record_environment()
        there = next(iter(client.run(ln.environment.record_environment).values()))
        assert there != here and there["numeric"]["variables"]["LRNOTES_THREADS"] == "1"
        monkeypatch.setenv("LRNOTES_SCHEDULER", address)  # as a build's kernels get it
        on_cluster = ln.sweep(CONFIGS, SEEDS, by="lr", cache=tmp_path)
        cache = ResultCache(tmp_path)
        assert counting == [] and len(cache) == 9
        everything = [(config, seed) for config in CONFIGS.values() for seed in SEEDS]
        assert all(cache.get(ln.run_key(config, seed, there)) is not None for config, seed in everything)
        assert all(cache.get(ln.run_key(config, seed)) is None for config, seed in everything)
        written = sorted((path.name, path.stat().st_mtime_ns) for path in tmp_path.rglob("*.json"))
        again = ln.sweep(CONFIGS, SEEDS, by="lr", cache=tmp_path)  # pointed at the cluster: found, nothing trains
        assert sorted((path.name, path.stat().st_mtime_ns) for path in tmp_path.rglob("*.json")) == written
        monkeypatch.delenv("LRNOTES_SCHEDULER")
        here_too = ln.sweep(CONFIGS, SEEDS, by="lr", cache=tmp_path, workers=1)  # this machine's keys: anew
        assert sum(counting) == 9 and len(cache) == 18
        assert_same_records(on_cluster, again)
        assert_same_records(on_cluster, here_too)
        client.close()
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(timeout=30)


def test_the_default_is_every_core(monkeypatch):
    monkeypatch.delenv("LRNOTES_WORKERS")
    monkeypatch.setattr(os, "cpu_count", lambda: 12)
    assert workers.resolve_workers() == 12


def test_ln_workers_environment_variable_sets_the_pool(tmp_path, monkeypatch, counting):
    monkeypatch.setenv("LRNOTES_WORKERS", "2")
    records = ln.sweep(CONFIGS, SEEDS, by="lr", cache=False)
    assert counting == [] and len(records) == 9 * 4


def test_one_worker_or_one_piece_trains_in_this_process_without_a_pool(monkeypatch, counting):
    def no_pool(count):
        raise AssertionError("a pool was started")

    monkeypatch.setattr(workers, "_local_executor", no_pool)
    monkeypatch.setitem(sys.modules, "distributed", None)  # Dask is not needed either
    ln.sweep(ln.RunConfig(epochs=2), [0], cache=False, workers=2)  # one run: one piece
    assert counting == [1]
    two_stacks = ln.grid(ln.RunConfig(epochs=2), batch_size=[16, 32])
    ln.sweep(two_stacks, [0, 1], by="batch", cache=False, workers=1)
    assert counting == [1, 2, 2]  # both stacks, whole, one after the other, here


def test_one_progress_bar_counts_the_runs_of_every_piece(capsys):
    ln.sweep(CONFIGS, SEEDS, by="lr", cache=False, workers=2, progress=True, description="pooled")
    err = capsys.readouterr().err
    counts = re.findall(r"pooled: +\d+%\|[^|]*\| (\d+)/(\d+) runs", err)
    assert counts and {total for _, total in counts} == {"9"}  # one bar, for all the runs
    assert {done for done, _ in counts} <= {"0", "3", "6", "9"}  # advanced by the pieces' runs (6 and 3)


@pytest.mark.parametrize("how", ["raise", "exit"])
def test_a_failed_piece_names_its_configuration_and_seeds_and_keeps_the_finished_ones(tmp_path, how, counting):
    marker = tmp_path / "fail"
    marker.touch()
    cache_dir = tmp_path / "cache"
    configs = {"ok": ln.RunConfig(epochs=2),
               "bad": ln.RunConfig(epochs=2, callbacks=[FailIfMarked(str(marker), str(cache_dir), 2, how)])}
    expected = "TerminatedWorkerError" if how == "exit" else "boom in the piece"
    with pytest.raises(RuntimeError, match=r"configuration 'bad' \(by='name'\), seeds \[0, 1\] \(.*" + expected):
        ln.sweep(configs, [0, 1], by="name", cache=cache_dir, workers=2)
    cache = ResultCache(cache_dir)
    ok_keys = [ln.run_key(configs["ok"], seed) for seed in (0, 1)]
    bad_keys = [ln.run_key(configs["bad"], seed) for seed in (0, 1)]
    assert len(cache) == 2 and all(cache.get(key) is not None for key in ok_keys)
    assert all(cache.get(key) is None for key in bad_keys) and not list(cache_dir.rglob("*.tmp"))
    written = {key: cache.path(key).stat().st_mtime_ns for key in ok_keys}
    marker.unlink()
    records = ln.sweep(configs, [0, 1], by="name", cache=cache_dir, workers=1)
    assert counting == [2]  # the failed piece's two runs, no more
    assert records.groupby("name").size().to_dict() == {"bad": 6, "ok": 6}
    assert {key: cache.path(key).stat().st_mtime_ns for key in ok_keys} == written  # not trained again
    assert all(cache.get(key) is not None for key in bad_keys)


def test_a_raising_piece_on_the_cluster_is_named_too(tmp_path, cluster):
    marker = tmp_path / "fail"
    marker.touch()
    configs = {"ok": ln.RunConfig(epochs=2),
               "bad": ln.RunConfig(epochs=2, callbacks=[FailIfMarked(str(marker), str(tmp_path / "c"), 2, "raise")])}
    with pytest.raises(RuntimeError, match=r"configuration 'bad' \(by='name'\), seeds \[0, 1\] \(.*boom in the piece"):
        ln.sweep(configs, [0, 1], by="name", cache=tmp_path / "c", scheduler=cluster.scheduler.address)
    assert len(ResultCache(tmp_path / "c")) == 2


def test_a_worker_of_the_cluster_that_dies_is_named_and_a_rerun_trains_only_what_is_missing(tmp_path, counting):
    """A cluster of its own, which gives up on a piece at its first dead worker (the default retries it 3 times)."""
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    marker = tmp_path / "fail"
    marker.touch()
    cache_dir = tmp_path / "cache"
    configs = {"ok": ln.RunConfig(epochs=2),
               "bad": ln.RunConfig(epochs=2, callbacks=[FailIfMarked(str(marker), str(cache_dir), 2, "exit")])}
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                      dashboard_address=":0") as local, distributed.Client(local) as client:
            with pytest.raises(RuntimeError, match=r"configuration 'bad' \(by='name'\), seeds \[0, 1\] "
                                                   r"\(KilledWorker: "):
                ln.sweep(configs, [0, 1], by="name", cache=cache_dir, scheduler=client)
    cache = ResultCache(cache_dir)
    ok_keys = [ln.run_key(configs["ok"], seed) for seed in (0, 1)]
    bad_keys = [ln.run_key(configs["bad"], seed) for seed in (0, 1)]
    assert len(cache) == 2 and all(cache.get(key) is not None for key in ok_keys)
    assert all(cache.get(key) is None for key in bad_keys) and not list(cache_dir.rglob("*.tmp"))
    marker.unlink()
    records = ln.sweep(configs, [0, 1], by="name", cache=cache_dir, workers=1)
    assert counting == [2]  # the dead piece's two runs, no more
    assert records.groupby("name").size().to_dict() == {"bad": 6, "ok": 6}


def test_records_made_under_other_settings_are_refused(tmp_path, monkeypatch):
    original = workers.train_piece

    def elsewhere(configs, seeds):  # a worker started with other thread settings
        records, made_under = original(configs, seeds)
        return records, {**made_under, "numeric": {**made_under["numeric"], "intra_op_threads": 4}}

    monkeypatch.setattr(workers, "train_piece", elsewhere)
    monkeypatch.setattr(workers, "_local_executor", lambda count: __import__("concurrent.futures").futures
                        .ThreadPoolExecutor(count))
    with pytest.raises(RuntimeError, match="under other settings than this process .*numeric"):
        ln.sweep(CONFIGS, SEEDS, by="lr", cache=tmp_path, workers=2)
    assert len(ResultCache(tmp_path)) == 0


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, ValueError, r"workers must be a positive integer \(1 trains in this process\), got 0"),
        (-1, ValueError, r"workers must be a positive integer .* got -1"),
        (1.5, TypeError, r"workers must be a positive integer .* got float 1.5"),
        ("2", TypeError, r"workers must be a positive integer .* got str '2'"),
        (True, TypeError, r"workers must be a positive integer"),
    ],
)
def test_bad_worker_counts_are_refused_before_training(value, error, message, monkeypatch):
    monkeypatch.setattr(sweeps, "train_stacked", None)  # any training would fail differently
    monkeypatch.setattr(sweeps, "run_pieces", None)
    with pytest.raises(error, match=message):
        ln.sweep(CONFIGS, SEEDS, by="lr", cache=False, workers=value)


@pytest.mark.parametrize("text", ["0", "-2", "two"])
def test_bad_lrnotes_workers_is_refused(text, monkeypatch):
    monkeypatch.setenv("LRNOTES_WORKERS", text)
    monkeypatch.setattr(sweeps, "train_stacked", None)
    with pytest.raises(ValueError, match="LRNOTES_WORKERS must be a positive integer"):
        ln.sweep(CONFIGS, SEEDS, by="lr", cache=False)


def test_an_unreachable_scheduler_is_a_clear_error_before_training(monkeypatch):
    monkeypatch.setattr(sweeps, "train_stacked", None)
    monkeypatch.setattr(sweeps, "run_pieces", None)
    monkeypatch.setenv("LRNOTES_SCHEDULER", "tcp://127.0.0.1:1")
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=r"no Dask scheduler answered at 'tcp://127.0.0.1:1' within 5 s"):
        ln.sweep(CONFIGS, SEEDS, by="lr", cache=False)
    assert time.monotonic() - start < 30
    with pytest.raises(TypeError, match="scheduler must be an address"):
        ln.sweep(CONFIGS, SEEDS, by="lr", cache=False, scheduler=8786)


def test_without_dask_a_scheduler_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    monkeypatch.setattr(sweeps, "train_stacked", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[cluster\]"'):
        ln.sweep(CONFIGS, SEEDS, by="lr", cache=False, scheduler="tcp://127.0.0.1:8786")


@pytest.mark.parametrize(("cores", "jobs", "expected"), [(16, 2, "8"), (16, 3, "5"), (2, 2, "1"), (2, 4, "1"), (2, 1, "2")])
def test_a_build_divides_the_cores_between_its_kernels(cores, jobs, expected, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setenv("LRNOTES_SCHEDULER", "tcp://scheduler:8786")
    env = kernel_environment(jobs)
    assert env["LRNOTES_WORKERS"] == expected and int(expected) * jobs <= max(cores, jobs)
    assert env["LRNOTES_SCHEDULER"] == "tcp://scheduler:8786"  # a build's kernels use the cluster it names
