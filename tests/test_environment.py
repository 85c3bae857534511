"""The cache never serves a number from other code, software, settings or processors;
fingerprints describe all state or refuse; determinism holds whatever was imported first."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import pytest

import lrnotes as ln
import lrnotes.environment as environment
from lrnotes.cache import ResultCache

CONFIG = ln.RunConfig(learning_rate=0.1, epochs=1)


# --------------------------------------------------------------------------
# The cache key covers everything a record depends on


def test_package_revision_covers_every_file_of_the_package(tmp_path):
    copy = tmp_path / "lrnotes"
    shutil.copytree(Path(environment.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    files = environment.package_files(copy)
    assert {path.name for path in files} >= {"training.py", "one_cycle.py", "range_test.py", "surfaces.py",
                                            "fingerprints.py", "engine_stacked.py", "_runtime.py", "environment.py", "ionosphere.csv"}
    base = environment.package_revision(copy)
    assert base == environment.package_revision(copy)  # stable
    seen = {base}
    for path in files:  # any edit of any file is another revision
        original = path.read_bytes()
        path.write_bytes(original + b"\n")
        seen.add(environment.package_revision(copy))
        path.write_bytes(original)
    assert len(seen) == len(files) + 1
    assert environment.package_revision(copy) == base


def _changed(function, part, value):
    def changed():
        found = dict(function())
        found[part] = value
        return found

    return changed


_NUMERIC = environment.numeric_settings
_SOFTWARE = environment.software_versions
_PROCESSOR = environment.processor

CHANGES = {
    "package source": ("_package_revision_now", lambda: "0" * 64),
    **{f"{name} version": ("software_versions", _changed(_SOFTWARE, name, "0.0.0"))
       for name in ("python", "tensorflow", "keras", "numpy", "scikit-learn")},
    "intra-op threads": ("numeric_settings", _changed(_NUMERIC, "intra_op_threads", 2)),
    "inter-op threads": ("numeric_settings", _changed(_NUMERIC, "inter_op_threads", 2)),
    "op determinism": ("numeric_settings", _changed(_NUMERIC, "op_determinism", False)),
    "devices": ("numeric_settings", _changed(_NUMERIC, "devices", ["CPU", "GPU"])),
    "processor model": ("processor", _changed(_PROCESSOR, "model", "Another CPU")),
    "vector features": ("processor", _changed(_PROCESSOR, "features", ["avx", "avx2", "avx512f", "fma"])),
}


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("environment-cache")
    ln.sweep(CONFIG, [0], cache=folder)
    return folder


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_of_the_environment_is_a_new_key_and_a_recompute(change, warm_cache, counting, monkeypatch):
    before = ln.run_key(CONFIG, 0)
    ln.sweep(CONFIG, [0], cache=warm_cache)
    assert counting == []  # the unchanged run is read back
    name, replacement = CHANGES[change]
    monkeypatch.setattr(environment, name, replacement)
    assert ln.run_key(CONFIG, 0) != before
    ln.sweep(CONFIG, [0], cache=warm_cache)
    assert counting == [1]


@pytest.mark.parametrize("variable", environment.NUMERIC_VARIABLES)
def test_kernel_choosing_variables_enter_the_key(variable, monkeypatch):
    monkeypatch.delenv(variable, raising=False)
    before = ln.run_key(CONFIG, 0)
    monkeypatch.setenv(variable, "7")
    assert ln.run_key(CONFIG, 0) != before


def test_real_switch_of_op_determinism_changes_the_key():
    from tensorflow.python.framework import config

    before = ln.run_key(CONFIG, 0)
    config.disable_op_determinism()
    try:
        assert ln.run_key(CONFIG, 0) != before
    finally:
        config.enable_op_determinism()
    assert ln.run_key(CONFIG, 0) == before


# --------------------------------------------------------------------------
# Fingerprints describe all state, or refuse


LIMIT = 0.5


def _reads_a_global(epoch, learning_rate):
    return min(learning_rate, LIMIT)


def test_a_function_fingerprint_includes_the_globals_it_reads(monkeypatch):
    before = ln.digest(_reads_a_global)
    monkeypatch.setattr(sys.modules[__name__], "LIMIT", 0.25)
    assert ln.digest(_reads_a_global) != before
    callback = keras.callbacks.LearningRateScheduler(_reads_a_global)
    key = ln.run_key(CONFIG.replace(callbacks=[callback]), 0)
    monkeypatch.setattr(sys.modules[__name__], "LIMIT", 0.125)
    assert ln.run_key(CONFIG.replace(callbacks=[callback]), 0) != key


def test_private_attributes_of_callbacks_and_schedules_count():
    first, second = keras.callbacks.ModelCheckpoint("a.weights.h5"), keras.callbacks.ModelCheckpoint("a.weights.h5")
    assert ln.digest(first) == ln.digest(second)
    second._batches_seen_since_last_saving = 3
    assert ln.digest(first) != ln.digest(second)


class _Opaque:
    pass


def test_what_cannot_be_described_is_a_clear_type_error():
    callback = keras.callbacks.LearningRateScheduler(lambda epoch, rate: rate)
    callback.helper = _Opaque()
    with pytest.raises(TypeError, match=r"cannot fingerprint config\['callbacks'\]\[0\]\.helper: an object of type .*_Opaque"):
        ln.fingerprint({"callbacks": [callback]}, name="config")
    with pytest.raises(TypeError, match=r"cannot fingerprint run\['config'\]\['callbacks'\]\[0\]\.helper"):
        ln.run_key(CONFIG.replace(callbacks=[callback]), 0)


def test_library_code_is_described_by_version_and_own_code_by_source():
    described = ln.fingerprint(ln.step_decay)
    assert described == {"function": "lrnotes.schedules.step_decay", "version": ln.__version__}
    assert "min(learning_rate, LIMIT)" in ln.fingerprint(_reads_a_global)["source"]


# --------------------------------------------------------------------------
# Same seeds, same numbers, whatever was imported first

_TRAIN = """
import json, sys
{first}
import lrnotes as ln
from tensorflow.python.framework import config
record = ln.train(ln.RunConfig(learning_rate=0.1, epochs=3), seed=1)
print(json.dumps({{
    "determinism": bool(config.is_op_determinism_enabled()),
    "threads": [ln.tf.config.threading.get_intra_op_parallelism_threads(),
                ln.tf.config.threading.get_inter_op_parallelism_threads()],
    "key": ln.run_key(ln.RunConfig(learning_rate=0.1, epochs=3), 1),
    "record": record.drop(columns="seconds").to_dict(orient="list"),
}}))
"""


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "LRNOTES_THREADS": "1"})


@pytest.mark.slow
def test_records_are_identical_whichever_import_comes_first():
    results = {}
    for first in ("", "import keras", "import tensorflow"):
        done = _run(_TRAIN.format(first=first))
        assert done.returncode == 0, done.stderr[-2000:]
        results[first] = json.loads(done.stdout.strip().splitlines()[-1])
    for result in results.values():
        assert result["determinism"] is True and result["threads"] == [1, 1]
    assert results[""] == results["import keras"] == results["import tensorflow"]


def test_the_first_cell_of_a_chapter_is_silent_without_a_log_level_set():
    # A chapter's first cell sets lrnotes up, then imports keras: TensorFlow's C++ start-up
    # notices (written to descriptor 2 whatever TF_CPP_MIN_LOG_LEVEL says) are filtered.
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", "import lrnotes as ln\nln.setup_notebook()\nimport keras\n"
                           "keras.ops.convert_to_numpy(keras.ops.ones(2) + 1)\n"],
                          capture_output=True, text=True, timeout=300, env=environment)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == "", done.stderr


def test_importing_after_tensorflow_ran_with_other_threads_is_a_clear_error():
    done = _run("import tensorflow as tf\ntf.constant(1.0) + 1\nimport lrnotes\n")
    assert done.returncode != 0
    assert "Set lrnotes up before running any TensorFlow or Keras code" in done.stderr


# --------------------------------------------------------------------------
# The cache command


def test_cache_command_shows_and_clears_the_cache(tmp_path, capsys, monkeypatch):
    from lrnotes.cli import main

    monkeypatch.setenv("LRNOTES_CACHE_DIR", str(tmp_path / "cache"))
    ln.sweep(CONFIG, [0, 1], cache=True)
    assert main(["cache"]) == 0
    shown = capsys.readouterr().out
    assert str(tmp_path / "cache") in shown and "2 entries" in shown
    assert main(["cache", "--clear"]) == 0
    assert "removed 2 entries" in capsys.readouterr().out
    assert len(ResultCache(tmp_path / "cache")) == 0
    assert main(["cache"]) == 0
    assert "0 entries" in capsys.readouterr().out
