"""Sweeps and their cache: reuse, recomputation, damaged and interrupted entries."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import lrnotes as ln
import lrnotes.sweeps as sweeps
from lrnotes.cache import ResultCache

DETERMINISTIC = [column for column in ln.RECORD_COLUMNS if column != "seconds"]


def test_sweep_shape_order_and_keys(tmp_path):
    configs = ln.grid(ln.RunConfig(epochs=3), learning_rate=[0.1, 0.01])
    records = ln.sweep(configs, [2, 0], by="lr", cache=tmp_path)
    assert list(records.columns) == ["lr", *ln.RECORD_COLUMNS]
    assert records.groupby(["lr", "seed"], sort=False).size().index.tolist() == [(0.1, 2), (0.1, 0), (0.01, 2), (0.01, 0)]
    multi = ln.sweep(ln.grid(ln.RunConfig(epochs=2), learning_rate=[0.1], batch_size=[16, 32]), [0],
                     by=("lr", "batch"), cache=False)
    assert set(multi["batch"]) == {16, 32} and (multi["lr"] == 0.1).all()


def test_finished_sweep_is_read_back_not_retrained(tmp_path, counting):
    configs = ln.grid(ln.RunConfig(epochs=4), learning_rate=[0.1, 0.01])
    first = ln.sweep(configs, [0, 1], by="lr", cache=tmp_path)
    assert sum(counting) == 4
    second = ln.sweep(configs, [0, 1], by="lr", cache=tmp_path)
    assert sum(counting) == 4  # nothing trained again
    assert first[DETERMINISTIC + ["lr"]].equals(second[DETERMINISTIC + ["lr"]])
    assert len(ResultCache(tmp_path)) == 4


def test_changed_configuration_or_new_seed_is_recomputed(tmp_path, counting):
    base = ln.RunConfig(epochs=3, learning_rate=0.1)
    ln.sweep(base, [0], cache=tmp_path)
    ln.sweep(base.replace(options={"momentum": 0.5}), [0], cache=tmp_path)
    ln.sweep(base, [0, 1], cache=tmp_path)
    assert counting == [1, 1, 1]  # the momentum run and seed 1 only


def test_cache_key_covers_configuration_seed_and_version(monkeypatch):
    config = ln.RunConfig(epochs=3)
    key = ln.run_key(config, 0)
    assert key == ln.run_key(ln.RunConfig(epochs=3), 0)
    assert key != ln.run_key(config.replace(epochs=4), 0)
    assert key != ln.run_key(config, 1)
    monkeypatch.setattr(ln, "__version__", "9.9.9")
    assert key != ln.run_key(config, 0)


def test_damaged_entry_is_detected_and_recomputed(tmp_path, counting):
    config = ln.RunConfig(epochs=3)
    good = ln.sweep(config, [0], cache=tmp_path)
    path = ResultCache(tmp_path).path(ln.run_key(config, 0))
    entry = json.loads(path.read_text())
    entry["data"][1][3] = 0.0  # tamper with a loss value: the checksum no longer matches
    path.write_text(json.dumps(entry))
    again = ln.sweep(config, [0], cache=tmp_path)
    assert counting == [1, 1]
    assert good[DETERMINISTIC].equals(again[DETERMINISTIC])
    path.write_text(path.read_text()[:100])  # truncated file
    ln.sweep(config, [0], cache=tmp_path)
    assert counting == [1, 1, 1]


def test_interrupted_write_leaves_nothing_half_written(tmp_path, monkeypatch):
    cache = ResultCache(tmp_path)
    frame = pd.DataFrame({"epoch": [0, 1], "loss": [1.0, 0.5]})

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(json, "dump", explode)
    with pytest.raises(KeyboardInterrupt):
        cache.put("ab" * 32, frame)
    monkeypatch.undo()
    assert list(tmp_path.rglob("*")) in ([], [tmp_path / "ab"])  # no entry, no temporary file
    assert cache.get("ab" * 32) is None


def test_interrupted_sweep_keeps_finished_runs_only(tmp_path, monkeypatch):
    # different batch sizes cannot share a graph: two trainings, the second interrupted
    configs = {"a": ln.RunConfig(epochs=2, batch_size=16), "b": ln.RunConfig(epochs=2, batch_size=32)}
    original = sweeps.train_stacked
    calls = []

    def fail_second(configs_, seeds, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(configs_, seeds, **kwargs)

    monkeypatch.setattr(sweeps, "train_stacked", fail_second)
    with pytest.raises(KeyboardInterrupt):
        ln.sweep(configs, [0], cache=tmp_path)
    entries = list(tmp_path.rglob("*.json"))
    assert len(entries) == 1 and not list(tmp_path.rglob("*.tmp"))
    assert ResultCache(tmp_path).get(entries[0].stem) is not None


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: ln.sweep({}, [0]), ValueError, "configs is empty"),
        (lambda: ln.sweep("sgd", [0]), TypeError, "configs must be a RunConfig"),
        (lambda: ln.sweep({"a": 1}, [0]), TypeError, "configs\\['a'\\] must be a RunConfig"),
        (lambda: ln.sweep(ln.RunConfig(), [0], by="learning_rate"), ValueError, "clashes with a column"),
        (lambda: ln.sweep(ln.RunConfig(), [0.5]), TypeError, "seeds must be non-negative integers"),
        (lambda: ln.grid(ln.RunConfig()), ValueError, "at least one axis"),
        (lambda: ln.grid(ln.RunConfig(), learning_rate=[]), ValueError, "non-empty list"),
    ],
)
def test_bad_sweep_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_progress_bar_counts_runs(tmp_path, capsys):
    ln.sweep(ln.grid(ln.RunConfig(epochs=2), learning_rate=[0.1, 0.2]), [0, 1], by="lr", cache=False,
             progress=True, description="demo")
    err = capsys.readouterr().err
    assert "demo" in err and "/4 runs" in err
