"""lrnotes: the helper package of the book *lrnotes*.

Data, models, one training function, sweeps with an on-disk cache, schedules,
callbacks, summaries and plots, so that every chapter stays short and every
number in the book comes from the same code.
"""

from __future__ import annotations

__version__ = "0.1.0"

from lrnotes._runtime import keras, tf  # noqa: E402  (quiet TensorFlow import first)
from lrnotes.cache import ResultCache, default_cache_dir  # noqa: E402
from lrnotes.callbacks import LearningRateMonitor, current_learning_rate  # noqa: E402
from lrnotes.data import (  # noqa: E402
    DATASETS,
    Dataset,
    bayes_accuracy,
    bayes_predict,
    load_blobs,
    load_dataset,
    load_digits,
    load_ionosphere,
)
from lrnotes.fingerprint import digest, fingerprint  # noqa: E402
from lrnotes.models import CNN, MLP, build_model, testbed_model  # noqa: E402
from lrnotes.notebook import record, setup_notebook  # noqa: E402
from lrnotes.one_cycle import OneCycle, one_cycle_rate, schedule_rates  # noqa: E402
from lrnotes.optimizers import (  # noqa: E402
    KERAS2_DEFAULT_LEARNING_RATES,
    OPTIMIZERS,
    default_learning_rate,
    make_optimizer,
)
from lrnotes.schedules import (  # noqa: E402
    exponential_decay,
    exponential_decay_schedule,
    legacy_decay,
    recursive_time_based_decay,
    scheduler,
    step_decay,
    time_based_decay,
)
from lrnotes.plots import (  # noqa: E402
    plot_dataset,
    plot_final,
    plot_grid,
    plot_learning_rates,
    plot_runs,
    series_colors,
)
from lrnotes.settings import PROFILES, Settings, choose  # noqa: E402
from lrnotes.range_test import LearningRateRangeTest, RangeTestRun  # noqa: E402
from lrnotes.surfaces import (  # noqa: E402
    Quadratic,
    Rosenbrock,
    Saddle,
    best_path,
    iteration_matrix,
    optimizer_path,
    optimizer_paths,
    plot_paths,
    spectral_radius,
    stability_limit,
)
from lrnotes.sweeps import grid, run_key, sweep  # noqa: E402
from lrnotes.analysis import REACH_WINDOW, Difference, difference, epochs_to_reach, final, jitter, summarize  # noqa: E402
from lrnotes.training import (  # noqa: E402
    METRIC_COLUMNS,
    RECORD_COLUMNS,
    RunConfig,
    can_stack,
    stack_key,
    train,
    train_many,
    train_stacked,
)

__all__ = [
    "CNN",
    "DATASETS",
    "KERAS2_DEFAULT_LEARNING_RATES",
    "METRIC_COLUMNS",
    "MLP",
    "OPTIMIZERS",
    "PROFILES",
    "REACH_WINDOW",
    "RECORD_COLUMNS",
    "Dataset",
    "Difference",
    "LearningRateMonitor",
    "LearningRateRangeTest",
    "OneCycle",
    "Quadratic",
    "RangeTestRun",
    "ResultCache",
    "Rosenbrock",
    "RunConfig",
    "Saddle",
    "Settings",
    "__version__",
    "bayes_accuracy",
    "bayes_predict",
    "best_path",
    "build_model",
    "can_stack",
    "choose",
    "current_learning_rate",
    "default_cache_dir",
    "default_learning_rate",
    "difference",
    "digest",
    "epochs_to_reach",
    "exponential_decay",
    "exponential_decay_schedule",
    "final",
    "fingerprint",
    "grid",
    "iteration_matrix",
    "jitter",
    "keras",
    "legacy_decay",
    "load_blobs",
    "load_dataset",
    "load_digits",
    "load_ionosphere",
    "make_optimizer",
    "one_cycle_rate",
    "optimizer_path",
    "optimizer_paths",
    "plot_dataset",
    "plot_final",
    "plot_grid",
    "plot_learning_rates",
    "plot_paths",
    "plot_runs",
    "record",
    "recursive_time_based_decay",
    "run_key",
    "schedule_rates",
    "scheduler",
    "series_colors",
    "setup_notebook",
    "spectral_radius",
    "stability_limit",
    "stack_key",
    "step_decay",
    "summarize",
    "sweep",
    "testbed_model",
    "tf",
    "time_based_decay",
    "train",
    "train_many",
    "train_stacked",
]
