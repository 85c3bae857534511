"""Import TensorFlow and Keras once, quietly and deterministically.

TensorFlow prints several C++ log lines on import (the absl preamble, the
oneDNN notice, CUDA probing on machines without a GPU). They are written to the
process's file descriptor 2 *before* ``TF_CPP_MIN_LOG_LEVEL`` takes effect, so
a notebook kernel would show them as stderr output. This module captures
descriptor 2 while TensorFlow initialises, drops exactly the known notices, and
writes every other line back to ``sys.stderr``: genuine errors stay visible.

``TF_CPP_MIN_LOG_LEVEL`` defaults to 3 (fatal messages only), because
TensorFlow 2.21 also prints an ERROR-level notice from every Keras ``fit``
(``node_def_util.cc ... use_unbounded_threadpool``); set the variable before
importing lrnotes to see TensorFlow's C++ log again.

It also pins TensorFlow to one intra-op and one inter-op thread (the models in
this book are tiny, and thread hand-offs cost more than they save; set
``LRNOTES_THREADS`` to change it) and enables op determinism, whether
TensorFlow or Keras was imported before lrnotes or not, so random ops
(``fit``'s shuffling, dropout) need a seed: call
``keras.utils.set_random_seed(seed)`` first, as every model builder of the
package does.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

__all__ = ["KNOWN_NOTICES", "configure", "filter_notices", "keras", "tf"]

#: Patterns of the start-up notices that TensorFlow writes to stderr and that
#: carry no information for a reader of the book.
KNOWN_NOTICES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        r"^WARNING: All log messages before absl::InitializeLog\(\) is called"
        r" are written to STDERR$",
        r"^[IW]\d{4} [\d:. ]+\d+ (port|cudart_stub|cpu_feature_guard)\.cc:\d+\]",
        r"^E\d{4} [\d:. ]+\d+ cuda_(platform|executor)\.cc:\d+\] failed call"
        r" to cuInit",
        r"^To enable the following instructions: .* in other operations,"
        r" rebuild TensorFlow with the appropriate compiler flags\.$",
        # Printed once per process by the first Keras fit/predict/evaluate
        # (its tf.data pipeline): a version mismatch notice inside TF 2.21.
        r"^E\d{4} [\d:. ]+\d+ node_def_util\.cc:\d+\] NodeDef mentions attribute"
        r" use_unbounded_threadpool which is not in the op definition",
    )
)


def filter_notices(text: str) -> str:
    """Remove TensorFlow's known start-up notices from captured stderr text.

    Parameters
    ----------
    text : str
        What TensorFlow wrote to stderr.

    Returns
    -------
    str
        The lines that are not known notices, in their original order.

    Examples
    --------
    >>> filter_notices("I0000 00:00:1.5  12 port.cc:153] oneDNN custom operations are on.\\nreal error\\n")
    'real error\\n'
    """
    kept = [
        line
        for line in text.splitlines(keepends=True)
        if not any(pattern.match(line.rstrip("\n")) for pattern in KNOWN_NOTICES)
    ]
    return "".join(kept)


def _threads() -> int:
    text = os.environ.get("LRNOTES_THREADS", "1")
    try:
        threads = int(text)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ValueError(f"LRNOTES_THREADS must be a positive integer, got {text!r}")
    return threads


def configure(tf_module) -> None:
    """Pin TensorFlow to ``LRNOTES_THREADS`` threads (default 1) and turn op determinism on.

    Works whichever of TensorFlow, Keras and lrnotes was imported first, as
    long as TensorFlow has not run an operation yet (importing it does not).

    Raises
    ------
    RuntimeError
        When TensorFlow already runs with other thread counts, which can no
        longer be changed in this process; the message says what to do.
    """
    threads = _threads()
    threading = tf_module.config.threading
    try:
        threading.set_intra_op_parallelism_threads(threads)
        threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # the runtime is initialised: the counts are fixed now
        current = (threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads())
        if current != (threads, threads):
            raise RuntimeError(
                f"TensorFlow already ran an operation with {current[0]} intra-op and {current[1]} inter-op "
                f"threads (0 means its default), and lrnotes needs {threads} of each for reproducible records "
                "(LRNOTES_THREADS). Set lrnotes up before running any TensorFlow or Keras code: restart the "
                "kernel (or the interpreter) and start with `import lrnotes as ln; ln.setup_notebook()`; "
                "importing keras or tensorflow before it is fine."
            ) from None
    tf_module.config.experimental.enable_op_determinism()


def _import_quietly():
    # 3: TensorFlow's C++ logger prints only fatal messages. Its INFO/WARNING/
    # ERROR lines in TF 2.21 are notices (oneDNN, CUDA probing, a tf.data
    # version note printed by every Keras fit); real failures still raise
    # Python exceptions. Set TF_CPP_MIN_LOG_LEVEL yourself to see them.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:  # imported by the user first: nothing to hide, but still configure
        import keras as keras_module
        import tensorflow as tf_module

        configure(tf_module)
        return tf_module, keras_module
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow as tf_module

            configure(tf_module)
            # Device initialisation (the CUDA probe) happens on the first op.
            tf_module.constant(0.0).numpy()
            import keras as keras_module

        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            rest = filter_notices(capture.read().decode("utf-8", "replace"))
    if rest:
        sys.stderr.write(rest)
    return tf_module, keras_module


tf, keras = _import_quietly()
