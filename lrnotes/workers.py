"""Where a sweep's pieces train: in this process, on every core, or on a Dask cluster.

A sweep cuts what it must train into *pieces*: the stacks it forms (runs
that share a :func:`~lrnotes.stacking.stack_key` and their seeds), split into
chunks of configurations or of seeds while there are fewer pieces than
workers (:func:`split_pieces`). A row's arithmetic never depends on the
other rows of its stack, so any split gives bit for bit the records of one
serial run. :func:`run_pieces` trains the pieces in a pool of local worker
processes (joblib's loky executor, reused between sweeps so its workers
stay warm) or on the workers of a Dask distributed scheduler, and hands each
finished piece, with the :func:`~lrnotes.environment.record_environment` of
the process that trained it, back to the caller, which alone writes the
cache. :func:`resolve_workers` reads ``workers=`` or ``LRNOTES_WORKERS``;
:func:`workers_for_jobs` divides the cores between the kernels of a build.

Nothing here imports TensorFlow, joblib or Dask until a pool is used.
"""

from __future__ import annotations

import numbers
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["CONNECT_TIMEOUT", "connect", "resolve_workers", "run_pieces", "split_pieces", "train_piece",
           "workers_for_jobs"]

#: Seconds to wait for a Dask scheduler to answer before the sweep gives up (before any training).
CONNECT_TIMEOUT = 5

#: Seconds an idle local worker waits for the next sweep before it exits.
IDLE_TIMEOUT = 600

_CLIENTS: dict[str, Any] = {}


def resolve_workers(workers: int | None = None) -> int:
    """The number of local worker processes: ``workers``, else ``$LRNOTES_WORKERS``, else every core.

    Parameters
    ----------
    workers : int, optional
        A positive integer; ``1`` trains in this process, as before pools.

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        For anything but a positive integer (in ``workers`` or ``LRNOTES_WORKERS``).

    Examples
    --------
    >>> resolve_workers(3)
    3
    >>> resolve_workers(0)
    Traceback (most recent call last):
    ...
    ValueError: workers must be a positive integer (1 trains in this process), got 0
    """
    if workers is None:
        text = os.environ.get("LRNOTES_WORKERS", "").strip()
        if not text:
            return os.cpu_count() or 1
        try:
            workers = int(text)
        except ValueError:
            raise ValueError(f"LRNOTES_WORKERS must be a positive integer (1 trains in this process), "
                             f"got {text!r}") from None
        if workers < 1:
            raise ValueError(f"LRNOTES_WORKERS must be a positive integer (1 trains in this process), got {text!r}")
        return workers
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral):
        raise TypeError(f"workers must be a positive integer (1 trains in this process) or None (LRNOTES_WORKERS, "
                        f"else every core), got {type(workers).__name__} {workers!r}")
    if workers < 1:
        raise ValueError(f"workers must be a positive integer (1 trains in this process), got {workers!r}")
    return int(workers)


def workers_for_jobs(jobs: int, cores: int | None = None) -> int:
    """Workers per kernel when ``jobs`` kernels run at once: ``max(1, cores // jobs)``.

    So jobs x workers never exceeds the cores (``cores`` defaults to ``os.cpu_count()``).

    Examples
    --------
    >>> workers_for_jobs(2, cores=16), workers_for_jobs(3, cores=8), workers_for_jobs(4, cores=2)
    (8, 2, 1)
    """
    for name, value in (("jobs", jobs), ("cores", cores if cores is not None else 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return max(1, (cores or os.cpu_count() or 1) // jobs)


def split_pieces(stacks: Sequence[tuple[Sequence[int], Sequence[int]]],
                 workers: int) -> list[tuple[list[int], list[int]]]:
    """Split ``(members, seeds)`` stacks until there are at least ``workers`` pieces (or single runs).

    The piece with the most runs is halved along its longer side
    (configurations, else seeds), again and again.

    Examples
    --------
    >>> split_pieces([([0, 1, 2, 3], [0, 1])], 2)
    [([0, 1], [0, 1]), ([2, 3], [0, 1])]
    >>> split_pieces([([0], [5, 6, 7])], 4)
    [([0], [5]), ([0], [6]), ([0], [7])]
    >>> split_pieces([([0, 1], [0]), ([2], [0])], 2)
    [([0, 1], [0]), ([2], [0])]
    """
    pieces = [(list(members), list(seeds)) for members, seeds in stacks]
    while pieces and len(pieces) < workers:
        position = max(range(len(pieces)), key=lambda i: len(pieces[i][0]) * len(pieces[i][1]))
        members, seeds = pieces[position]
        if len(members) * len(seeds) == 1:
            break
        if len(members) >= len(seeds):
            half = (len(members) + 1) // 2
            pieces[position:position + 1] = [(members[:half], seeds), (members[half:], seeds)]
        else:
            half = (len(seeds) + 1) // 2
            pieces[position:position + 1] = [(members, seeds[:half]), (members, seeds[half:])]
    return pieces


def train_piece(configs: Sequence[Any], seeds: Sequence[int]) -> tuple[list[Any], dict[str, object]]:
    """Train one piece (in a worker); its records and the environment that made them.

    Examples
    --------
    >>> from lrnotes.config import RunConfig
    >>> records, made_under = train_piece([RunConfig(epochs=1)], [0])
    >>> len(records[0]), sorted(made_under)
    (2, ['numeric', 'package', 'processor', 'software'])
    """
    from lrnotes.environment import record_environment
    from lrnotes.training import train_stacked

    records = train_stacked(list(configs), list(seeds))
    return records, record_environment()


def connect(scheduler: Any) -> Any:
    """A ``dask.distributed.Client`` for ``scheduler`` (an address or a client), checked to answer.

    Raises
    ------
    ImportError
        When Dask's distributed scheduler is not installed.
    ConnectionError
        When no scheduler answers at the address within :data:`CONNECT_TIMEOUT` seconds.

    Examples
    --------
    >>> connect(42)
    Traceback (most recent call last):
    ...
    TypeError: scheduler must be an address such as 'tcp://host:8786' or a dask.distributed.Client, got int 42
    """
    if not isinstance(scheduler, str):
        client_class = getattr(sys.modules.get("distributed"), "Client", None)
        if client_class is not None and isinstance(scheduler, client_class):
            return scheduler
        raise TypeError("scheduler must be an address such as 'tcp://host:8786' or a dask.distributed.Client, "
                        f"got {type(scheduler).__name__} {scheduler!r}")
    try:
        from distributed import Client
    except ImportError:
        raise ImportError(f"a Dask scheduler ({scheduler!r}) needs Dask's distributed scheduler: "
                          'pip install -e ".[cluster]" (or pip install "dask[distributed]")') from None
    client = _CLIENTS.get(scheduler)
    if client is not None and client.status == "running":
        return client
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ConnectionError(f"no Dask scheduler answered at {scheduler!r} within {CONNECT_TIMEOUT} s "
                              f"(LRNOTES_SCHEDULER or scheduler=); start one with `dask scheduler`: {error}") from None
    _CLIENTS[scheduler] = client
    return client


def _local_executor(workers: int):
    from joblib.externals.loky import get_reusable_executor

    return get_reusable_executor(max_workers=workers, timeout=IDLE_TIMEOUT)


def run_pieces(
    pieces: Sequence[tuple[list[Any], list[int]]],
    *,
    workers: int,
    client: Any = None,
    on_done: Callable[[int, list[Any], dict[str, object]], None],
    describe: Callable[[int], str],
) -> None:
    """Train ``pieces`` (lists of configurations, seeds) in parallel; ``on_done(i, records, environment)`` each.

    ``client`` (from :func:`connect`) sends them to a Dask cluster, else a
    pool of ``workers`` local processes trains them. ``on_done`` runs in
    this process, as each piece finishes. When pieces fail (an exception in
    a piece, a worker that dies), the local pool's pieces not yet started
    are cancelled (a cluster's all run: Dask cannot tell queued from
    running), the others are waited for and handed to ``on_done`` if they
    finish, and a ``RuntimeError`` names every failed piece by
    ``describe(i)``.

    Examples
    --------
    >>> from lrnotes.config import RunConfig
    >>> done = []
    >>> run_pieces([([RunConfig(epochs=1)], [0]), ([RunConfig(epochs=1)], [1])], workers=2,
    ...            on_done=lambda i, records, made_under: done.append(i), describe=str)
    >>> sorted(done)
    [0, 1]
    """
    if client is not None:
        from distributed import as_completed

        futures = {client.submit(train_piece, configs, seeds, pure=False): index
                   for index, (configs, seeds) in enumerate(pieces)}
        finished = as_completed(futures, loop=client.loop)
    else:
        import concurrent.futures

        executor = _local_executor(workers)
        futures = {executor.submit(train_piece, configs, seeds): index for index, (configs, seeds) in enumerate(pieces)}
        finished = concurrent.futures.as_completed(futures)
    failures: list[str] = []
    cancelled = 0
    try:
        for future in finished:
            index = futures[future]
            if future.cancelled():
                cancelled += 1
                continue
            try:
                records, made_under = future.result()
            except Exception as error:  # noqa: BLE001 - reported below, with the piece it belongs to
                if not failures and client is None:
                    for other in futures:
                        other.cancel()  # not started yet: never runs; running ones finish
                reason = (str(error).strip().splitlines() or [""])[0]
                failures.append(f"{describe(index)} ({type(error).__name__}: {reason})")
                continue
            on_done(index, records, made_under)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    if failures:
        skipped = f"; {cancelled} piece(s) not started were cancelled" if cancelled else ""
        raise RuntimeError(f"{len(failures)} of {len(pieces)} pieces of the sweep failed: {'; '.join(failures)}"
                           f"{skipped}. The finished pieces are cached; run the sweep again to train only what "
                           "is missing.")
