"""What shapes a training record besides its configuration and seed.

A record is a function of the run's configuration and seed, of the code that
trains it (the whole package), of the software that does the arithmetic
(Python, TensorFlow, Keras, NumPy, scikit-learn for the digits), of the
numeric settings (threads, op determinism, oneDNN and the devices
TensorFlow sees) and of the processor (TensorFlow picks some CPU kernels at
run time by vector width). :func:`record_environment` collects all of it; the
sweep cache keys every entry on it, so a change to any of them recomputes
instead of serving a number from other software or another machine.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
from importlib import metadata, resources
from pathlib import Path

__all__ = [
    "ARITHMETIC_PACKAGES",
    "NOT_IN_REVISION",
    "NUMERIC_VARIABLES",
    "numeric_settings",
    "package_files",
    "package_revision",
    "processor",
    "record_environment",
    "software_versions",
    "versions",
]

#: Distributions whose code does (or feeds) a run's arithmetic.
ARITHMETIC_PACKAGES = ("tensorflow", "keras", "numpy", "scikit-learn")

#: Environment variables that change which kernels TensorFlow runs.
NUMERIC_VARIABLES = (
    "TF_ENABLE_ONEDNN_OPTS",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
    "TF_DETERMINISTIC_OPS",
    "TF_XLA_FLAGS",
    "CUDA_VISIBLE_DEVICES",
    "LRNOTES_THREADS",
)

#: Processor features that decide which vectorised kernels run.
_VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                 "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "asimd", "sve")


#: Package files that shape no record: ``profiles.yml`` only lists which runs each
#: chapter asks for, and every run's cache key holds its whole configuration.
NOT_IN_REVISION = frozenset({"profiles.yml"})


def package_files(root: Path | None = None) -> list[Path]:
    """Every file of the package that can shape a record (sources and vendored data), sorted.

    Caches and :data:`NOT_IN_REVISION` are left out.

    Examples
    --------
    >>> names = [path.name for path in package_files()]
    >>> "training.py" in names and "environment.py" in names
    True
    """
    root = Path(root) if root is not None else Path(str(resources.files("lrnotes")))
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo")
        and path.name not in NOT_IN_REVISION
    )


def package_revision(root: Path | None = None) -> str:
    """A sha256 over the names and bytes of every file of the package.

    Any edit of any module (or of the vendored data) gives another revision,
    and so other cache keys.

    Examples
    --------
    >>> len(package_revision())
    64
    """
    root = Path(root) if root is not None else Path(str(resources.files("lrnotes")))
    hasher = hashlib.sha256()
    for path in package_files(root):
        hasher.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        hasher.update(path.read_bytes() + b"\0")
    return hasher.hexdigest()


@functools.lru_cache(maxsize=1)
def _package_revision_now() -> str:
    return package_revision()


def versions(packages: tuple[str, ...]) -> dict[str, str]:
    """The Python implementation and version, and the installed version of each distribution.

    Examples
    --------
    >>> versions(("numpy", "no-such-package"))["no-such-package"]
    'not installed'
    """
    found = {"python": f"{platform.python_implementation()} {platform.python_version()}"}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


@functools.lru_cache(maxsize=1)
def software_versions() -> dict[str, str]:
    """The Python implementation and version, and the version of every arithmetic package.

    Examples
    --------
    >>> sorted(software_versions())
    ['keras', 'numpy', 'python', 'scikit-learn', 'tensorflow']
    """
    return versions(ARITHMETIC_PACKAGES)


def numeric_settings() -> dict[str, object]:
    """TensorFlow's thread counts, op determinism, visible devices and the kernel-choosing variables.

    Examples
    --------
    >>> settings = numeric_settings()
    >>> settings["op_determinism"], settings["intra_op_threads"]
    (True, 1)
    """
    from tensorflow.python.framework import config as tf_config

    from lrnotes._runtime import tf

    return {
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "op_determinism": bool(tf_config.is_op_determinism_enabled()),
        "devices": sorted(device.device_type for device in tf.config.list_logical_devices()),
        "variables": {name: os.environ.get(name) for name in NUMERIC_VARIABLES},
    }


@functools.lru_cache(maxsize=1)
def processor() -> dict[str, object]:
    """The architecture, the processor's model name and its vector-instruction features.

    Examples
    --------
    >>> sorted(processor())
    ['features', 'machine', 'model']
    """
    model, flags = platform.processor() or "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and not model:
                model = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:  # not Linux: the model name from platform alone
        pass
    return {"machine": platform.machine(), "model": model, "features": sorted(flags.intersection(_VECTOR_FLAGS))}


def record_environment() -> dict[str, object]:
    """Everything besides configuration and seed that a record depends on.

    Examples
    --------
    >>> sorted(record_environment())
    ['numeric', 'package', 'processor', 'software']
    """
    return {
        "package": _package_revision_now(),
        "software": software_versions(),
        "numeric": numeric_settings(),
        "processor": processor(),
    }
