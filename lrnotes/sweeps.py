"""Grids of configurations times seeds, trained once and cached on disk.

:func:`sweep` is how every chapter trains: it looks each (configuration, seed)
up in the cache, trains what is missing (runs that differ only in a constant
learning rate train side by side, all seeds at once), stores the new records
and returns one tidy DataFrame. A finished sweep reruns in seconds.

What is missing trains on every core: the stacks, split into chunks of
configurations or seeds when there are fewer stacks than workers, go to a
pool of worker processes (``workers=``, else ``LRNOTES_WORKERS``, else all
cores; ``workers=1`` trains in this process), or to the workers of a Dask
scheduler (``scheduler=``, else ``LRNOTES_SCHEDULER``); see
:mod:`lrnotes.workers`. A row's arithmetic never depends on the other rows
of its stack, so the records are bit for bit those of a serial run. Only
this process writes the cache, one piece at a time as pieces finish: a
failure leaves the finished pieces cached, and a rerun trains the rest.
Each record is stored under the key of the environment that trained it
(:func:`run_key`): a local worker must match this process exactly (the
sweep refuses its records otherwise); a cluster's worker on another kind of
machine stores its records under that machine's key, which a notebook
looks up again whenever it is pointed at that cluster.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import pandas as pd

from lrnotes import validation
from lrnotes.cache import ResultCache, default_cache_dir
from lrnotes.fingerprints import digest
from lrnotes.config import RunConfig
from lrnotes.environment import record_environment
from lrnotes.records import RECORD_COLUMNS
from lrnotes.stacking import stack_key
from lrnotes.training import train_stacked
from lrnotes.workers import connect, resolve_workers, run_pieces, split_pieces

__all__ = ["grid", "run_key", "sweep"]


def run_key(config: RunConfig, seed: int, environment: Mapping[str, object] | None = None) -> str:
    """The cache key of one run: its configuration and seed, and what else shapes its record.

    The optimizer enters with its resolved settings, so spellings of the same
    run share a key (``options={"momentum": 0.9}`` and ``{"momentum": 0.9,
    "nesterov": False}``; a name with a rate and the equivalent instance).
    Everything else a record depends on enters too
    (:func:`lrnotes.environment.record_environment`): the package's whole
    source, the versions of Python, TensorFlow, Keras, NumPy and
    scikit-learn, TensorFlow's threads, op determinism, devices and oneDNN
    settings, and the processor. A change to any of them is a new key, so
    the cache never serves a number that other software or settings made.
    ``environment`` is that of the process that trained the run (a worker of
    a cluster, say); it defaults to this process's.

    Examples
    --------
    >>> run_key(RunConfig(), 0) == run_key(RunConfig(learning_rate=0.01), 0)
    True
    >>> run_key(RunConfig(), 0) == run_key(RunConfig(), 1)
    False
    """
    from lrnotes import __version__

    resolved = {
        "data": config.data,
        "model": config.model,
        "optimizer": config.make_optimizer(),
        "batch_size": config.effective_batch_size,
        "epochs": config.epochs,
        "callbacks": list(config.callbacks),
    }
    return digest(
        {"config": resolved, "seed": int(seed), "version": __version__, "environment": environment if environment is not None else record_environment()},
        name="run",
    )


def grid(base: RunConfig, **axes: Sequence[Any]) -> dict[Hashable, RunConfig]:
    """Configurations that vary ``base`` along one or more fields.

    With one axis the keys are its values; with several, tuples of values in
    the order given.

    Examples
    --------
    >>> configs = grid(RunConfig(epochs=5), learning_rate=[0.1, 0.01])
    >>> list(configs)
    [0.1, 0.01]
    >>> list(grid(RunConfig(epochs=5), learning_rate=[0.1], batch_size=[16, 32]))
    [(0.1, 16), (0.1, 32)]
    """
    if not axes:
        raise ValueError("grid needs at least one axis, such as learning_rate=[0.1, 0.01]")
    names = list(axes)
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"axis {name!r} must be a non-empty list of values, got {values!r}")
    configs = {}
    for values in itertools.product(*(axes[name] for name in names)):
        key = values[0] if len(names) == 1 else tuple(values)
        configs[key] = base.replace(**dict(zip(names, values)))
    return configs


def _cluster_environments(client: Any, here: dict) -> list[dict]:
    """The environments of a cluster's workers other than ``here`` (each once)."""
    reported = client.run(record_environment)
    if not reported:
        raise RuntimeError(f"the Dask scheduler {client.scheduler.address} has no workers: start some with "
                           "`dask worker <scheduler address> --nthreads 1`")
    distinct: list[dict] = []
    for made_under in reported.values():
        if made_under != here and made_under not in distinct:
            distinct.append(made_under)
    return distinct


def _progress_enabled(progress: bool | None) -> bool:
    if progress is not None:
        return bool(progress)
    return os.environ.get("LRNOTES_PROGRESS", "1").lower() not in ("0", "false", "no", "off")


def sweep(
    configs: RunConfig | Mapping[Hashable, RunConfig] | Sequence[RunConfig],
    seeds: Sequence[int],
    *,
    by: str | Sequence[str] = "config",
    cache: bool | str | os.PathLike = True,
    progress: bool | None = None,
    description: str = "training",
    workers: int | None = None,
    scheduler: Any = None,
) -> pd.DataFrame:
    """Train every configuration with every seed (or read it from the cache).

    Parameters
    ----------
    configs : RunConfig, mapping or sequence of RunConfig
        One configuration, ``{key: config}`` (see :func:`grid`), or a list.
    seeds : list of int
        The seeds of every configuration.
    by : str or sequence of str, default "config"
        Name of the column that holds the keys; a sequence names the parts of
        tuple keys, one column each.
    cache : bool or path, default True
        ``True`` uses :func:`lrnotes.cache.default_cache_dir`, a path uses that
        folder, ``False`` trains everything afresh and stores nothing.
    progress : bool, optional
        Show a progress bar (``tqdm``; compact in Jupyter). Defaults to on
        unless ``LRNOTES_PROGRESS=0``, which the book build sets.
    description : str
        Label of the progress bar.
    workers : int, optional
        Local worker processes that train at once; defaults to
        ``$LRNOTES_WORKERS``, else every core. ``1`` trains in this process.
    scheduler : str or dask.distributed.Client, optional
        A Dask scheduler (``"tcp://host:8786"``) or a client of one: the
        cluster's workers train instead of local ones. Defaults to
        ``$LRNOTES_SCHEDULER``; needs ``pip install -e ".[cluster]"``.

    Returns
    -------
    pandas.DataFrame
        The ``by`` column(s), then :data:`lrnotes.records.RECORD_COLUMNS`.

    Examples
    --------
    >>> records = sweep(grid(RunConfig(epochs=2), learning_rate=[0.1, 0.01]), seeds=[0, 1],
    ...                 by="lr", cache=False, progress=False)
    >>> records.groupby("lr").size().to_dict()
    {0.01: 6, 0.1: 6}
    """
    seeds = validation.seeds(seeds)
    if isinstance(configs, RunConfig):
        configs = {0: configs}
    elif isinstance(configs, Mapping):
        configs = dict(configs)
    elif isinstance(configs, Sequence) and not isinstance(configs, (str, bytes)):
        configs = dict(enumerate(configs))
    else:
        raise TypeError(f"configs must be a RunConfig, a mapping or a list of them, got {type(configs).__name__}")
    if not configs:
        raise ValueError("configs is empty: nothing to train")
    for key, config in configs.items():
        if not isinstance(config, RunConfig):
            raise TypeError(f"configs[{key!r}] must be a RunConfig, got {type(config).__name__}")
    columns = [by] if isinstance(by, str) else list(by)
    clashes = [name for name in columns if name in RECORD_COLUMNS]
    if clashes:
        raise ValueError(
            f"by={clashes[0]!r} clashes with a column of the record; choose another name "
            f"(the record has: {', '.join(RECORD_COLUMNS)})"
        )
    if len(columns) > 1:
        for key in configs:
            if not isinstance(key, tuple) or len(key) != len(columns):
                raise ValueError(f"by names {len(columns)} columns, so keys must be tuples of that length, got {key!r}")

    workers = resolve_workers(workers)
    if scheduler is None:
        scheduler = os.environ.get("LRNOTES_SCHEDULER") or None
    elif not isinstance(scheduler, str):
        connect(scheduler)  # a client passes; anything else but an address is a TypeError now
    store = None
    if cache is not False:
        store = ResultCache(default_cache_dir() if cache is True else cache)

    keys = list(configs)
    found: dict[tuple[int, int], pd.DataFrame] = {}
    here = record_environment()
    looked_up = [here]
    client = None

    def look_up(pairs):
        for index, seed in pairs:
            for made_under in looked_up:
                record = store.get(run_key(configs[keys[index]], seed, made_under))
                if record is not None:
                    found[index, seed] = record[RECORD_COLUMNS]
                    break

    everything = [(index, seed) for index in range(len(keys)) for seed in seeds]
    if store is not None:
        look_up(everything)
    if scheduler is not None and len(found) < len(everything):
        client = connect(scheduler)  # before any training: a clear error when nobody answers
        looked_up += _cluster_environments(client, here)
        if store is not None and len(looked_up) > 1:
            look_up([pair for pair in everything if pair not in found])
    missing: dict[int, list[int]] = {}
    for index, seed in everything:
        if (index, seed) not in found:
            missing.setdefault(index, []).append(seed)

    # Runs that can share a graph train together: same stack key, same seeds.
    groups: dict[tuple, list[int]] = {}
    for index, needed in missing.items():
        group = (stack_key(configs[keys[index]]) or f"alone-{index}", tuple(needed))
        groups.setdefault(group, []).append(index)
    slots = sum(client.nthreads().values()) if client is not None else workers
    pieces = split_pieces([(members, needed) for (_, needed), members in groups.items()], slots)

    total = sum(len(needed) for needed in missing.values())
    bar = None
    if total and _progress_enabled(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=description, unit="run", leave=False,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total} runs [{elapsed}<{remaining}]")

    def finished(position: int, records: list[pd.DataFrame], made_under: dict | None) -> None:
        members, needed = pieces[position]
        if made_under is not None and client is None and made_under != here:
            differing = sorted(part for part in here if here[part] != made_under.get(part))
            raise RuntimeError(
                f"a local worker trained {describe(position)} under other settings than this process "
                f"({', '.join(differing)} differ), so its records do not belong under this process's cache "
                "keys; nothing of it was stored. Restart the kernel (the workers inherit the settings of "
                "the process that starts them) or pass workers=1."
            )
        for index, record in zip(members, records):
            for seed, part in record.groupby("seed", sort=False):
                part = part.reset_index(drop=True)
                found[index, int(seed)] = part
                if store is not None:
                    store.put(run_key(configs[keys[index]], int(seed), made_under), part, {"by": repr(keys[index])})
        if bar is not None and made_under is not None:
            bar.update(len(members) * len(needed))

    def describe(position: int) -> str:
        members, needed = pieces[position]
        named = ", ".join(repr(keys[index]) for index in members)
        return f"configuration{'s' if len(members) > 1 else ''} {named} (by={by!r}), seeds {list(needed)}"

    try:
        if client is None and (workers == 1 or len(pieces) <= 1):
            for position, (members, needed) in enumerate(pieces):  # in this process: no pool to start
                records = train_stacked([configs[keys[index]] for index in members], list(needed),
                                        on_epoch=bar.update if bar else None)
                finished(position, records, None)
        else:
            run_pieces([([configs[keys[index]] for index in members], list(needed)) for members, needed in pieces],
                       workers=workers, client=client, on_done=finished, describe=describe)
    finally:
        if bar is not None:
            bar.close()

    parts = []
    for index, key in enumerate(keys):
        for seed in seeds:
            part = found[index, seed].copy()
            values = key if len(columns) > 1 else (key,)
            for position, (name, value) in enumerate(zip(columns, values)):
                part.insert(position, name, [value] * len(part))
            parts.append(part)
    return pd.concat(parts, ignore_index=True)
