"""lrnotes: the helper package of the book *lrnotes*.

Data, models, one training function, sweeps with an on-disk cache, schedules,
callbacks, summaries and plots, so that every chapter stays short and every
number in the book comes from the same code. ``import lrnotes as ln`` is the
one import a chapter needs: every public name below is ``ln.<name>``.

Names are loaded on first use, so the command line (``lrnotes list``) and
the Sphinx extension start without TensorFlow. TensorFlow is imported, and
pinned to one thread with op determinism on (:mod:`lrnotes._runtime`), when
a name that needs it is first used, or at once if TensorFlow is already
imported. Use lrnotes (for instance ``ln.setup_notebook()``) before running
TensorFlow code of your own; otherwise lrnotes asks you to restart.
"""

from __future__ import annotations

import importlib
import sys

__version__ = "0.1.0"

#: Every public name, by the module that defines it.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "_runtime": ("keras", "tf"),
    "analysis": ("REACH_WINDOW", "Difference", "difference", "difference_text", "epochs_to_reach", "final",
                 "final_values", "jitter", "seed_values", "summarize"),
    "cache": ("ResultCache", "default_cache_dir"),
    "callbacks": ("LearningRateMonitor", "current_learning_rate"),
    "config": ("RunConfig",),
    "data": ("DATASETS", "Dataset", "bayes_accuracy", "bayes_predict", "load_blobs", "load_dataset",
             "load_digits", "load_ionosphere"),
    "explore": ("Explorer",),
    "fingerprints": ("digest", "fingerprint"),
    "models": ("CNN", "MLP", "build_model", "testbed_model"),
    "notebook": ("record", "setup_notebook"),
    "one_cycle": ("OneCycle", "one_cycle_rate", "schedule_rates"),
    "optimizers": ("KERAS2_DEFAULT_LEARNING_RATES", "OPTIMIZERS", "default_learning_rate", "make_optimizer"),
    "path_explorer": ("explore_paths",),
    "paths": ("Path", "best_path", "optimizer_path", "optimizer_paths"),
    "plots": ("plot_dataset", "plot_final", "plot_grid", "plot_learning_rates", "plot_runs", "series_colors"),
    "range_test": ("LearningRateRangeTest", "RangeTestRun"),
    "records": ("METRIC_COLUMNS", "RECORD_COLUMNS"),
    "run_explorer": ("explore_runs",),
    "schedules": ("WarmupStableDecay", "exponential_decay", "exponential_decay_schedule", "legacy_decay",
                  "recursive_time_based_decay", "scheduler", "step_decay", "time_based_decay", "wsd_rate"),
    "settings": ("PROFILES", "Settings", "choose"),
    "curvature": ("SharpnessMonitor", "hessian", "sharpness", "sharpness_along"),
    "stability": ("iteration_matrix", "spectral_radius", "stability_limit"),
    "stacking": ("can_stack", "stack_key", "stack_refusal"),
    "surface_plots": ("plot_paths",),
    "surfaces": ("Quadratic", "Rosenbrock", "Saddle"),
    "sweeps": ("grid", "run_key", "sweep"),
    "training": ("train", "train_many", "train_stacked", "train_with_model"),
}

_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(["__version__", *_MODULE_OF])


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        if name in _SUBMODULES:
            return importlib.import_module(f"{__name__}.{name}")
        raise AttributeError(f"module 'lrnotes' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


#: Modules reachable as ``ln.<module>`` (``ln.analysis.REACH_WINDOW``, say).
_SUBMODULES = frozenset(_EXPORTS) | {"environment", "validation", "execute", "build", "chapters", "engine",
                                     "engine_stacked", "engine_keras", "range_test_run", "build_page", "cli",
                                     "notebook_cache", "workers"}

if "tensorflow" in sys.modules:  # TensorFlow is already loaded: configure it now, cheaply
    importlib.import_module(f"{__name__}._runtime")
