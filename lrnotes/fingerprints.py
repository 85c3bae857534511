"""Stable descriptions of configurations, for cache keys and grouping.

:func:`fingerprint` turns a configuration (numbers, strings, arrays,
dataclasses, Keras optimizers, learning-rate schedules, callbacks and plain
functions) into JSON-ready data that is the same in every process and on
every machine; :func:`digest` hashes it.

Nothing is dropped silently. An object is described by all of its state:
every attribute of a callback or schedule (private ones too), and for a
function its source, defaults, closure and every global name it reads (the
values of module-level settings, the functions it calls, the modules it
uses, with their versions). Whatever cannot be described raises a
``TypeError`` that names where it sits (``config.callbacks[0].schedule``),
so a cache key can never ignore a setting that changes a run.
"""

from __future__ import annotations

import builtins
import dataclasses
import dis
import enum
import functools
import hashlib
import inspect
import json
import numbers
import sys
import textwrap
import types
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["RUNTIME_LINKS", "digest", "fingerprint"]

#: Attributes that Keras sets on a callback when training begins (links to
#: the model being trained and to ``fit``'s arguments), not settings of the
#: callback: they are left out of its description.
RUNTIME_LINKS = frozenset({"_model", "model", "params", "validation_data"})


def _module_version(module_name: str) -> str | None:
    top = sys.modules.get(module_name.partition(".")[0])
    version = getattr(top, "__version__", None)
    return str(version) if version is not None else None


def _global_names(code: types.CodeType) -> set[str]:
    """The global names that a code object (and the code nested in it) loads."""
    names = {
        instruction.argval
        for instruction in dis.get_instructions(code)
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(instruction.argval, str)
    }
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _global_names(constant)
    return names


def _library(module_name: str | None) -> str | None:
    """The version of the library that ``module_name`` belongs to; None for a reader's own code.

    Code of an installed, versioned library (Keras, NumPy, lrnotes itself,
    whose whole source enters every cache key anyway) is described by name
    and version; code without a version (a notebook, a script, a module next
    to it) is described by its source.
    """
    if not module_name or module_name == "__main__":
        return None
    return _module_version(module_name)


def _code_body(code: types.CodeType) -> dict:
    """A code object without its source: bytecode, constants and names."""
    return {
        "bytecode": code.co_code.hex(),
        "constants": [_code_body(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts],
        "names": list(code.co_names),
    }


class _Describer:
    def __init__(self) -> None:
        self.active: set[int] = set()  # functions being described (recursion)

    def fail(self, obj: Any, where: str) -> TypeError:
        return TypeError(
            f"cannot fingerprint {where}: an object of type {type(obj).__module__}.{type(obj).__qualname__}. "
            "A cache key must describe every setting of a run; use numbers, strings, lists, dicts, dataclasses, "
            "NumPy arrays, functions, Keras optimizers, schedules (with get_config) or callbacks"
        )

    def describe(self, obj: Any, where: str) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, enum.Enum):
            return {"enum": f"{type(obj).__module__}.{type(obj).__qualname__}", "value": obj.name}
        if isinstance(obj, numbers.Integral):
            return int(obj)
        if isinstance(obj, numbers.Real):
            value = float(obj)
            return value if np.isfinite(value) else repr(value)
        if isinstance(obj, bytes):
            return {"bytes": obj.hex()}
        if isinstance(obj, np.ndarray):
            if obj.dtype == object:
                raise self.fail(obj, where)
            return {"array": self.describe(obj.tolist(), where), "dtype": str(obj.dtype), "shape": list(obj.shape)}
        if isinstance(obj, Mapping):
            return {
                str(key): self.describe(value, f"{where}[{key!r}]")
                for key, value in sorted(obj.items(), key=lambda item: str(item[0]))
            }
        if isinstance(obj, (list, tuple)):
            return [self.describe(item, f"{where}[{index}]") for index, item in enumerate(obj)]
        if isinstance(obj, (set, frozenset)):
            return sorted((self.describe(item, f"{where}{{}}") for item in obj), key=json.dumps)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return {
                "class": f"{type(obj).__module__}.{type(obj).__qualname__}",
                **{f.name: self.describe(getattr(obj, f.name), f"{where}.{f.name}") for f in dataclasses.fields(obj)},
            }
        keras = sys.modules.get("keras")
        if keras is not None:
            if isinstance(obj, keras.optimizers.Optimizer):
                config = dict(keras.optimizers.serialize(obj)["config"])
                config.pop("name", None)
                return {"class": self.a_class(type(obj)), "config": self.describe(config, f"{where}.config")}
            if isinstance(obj, keras.optimizers.schedules.LearningRateSchedule):
                try:
                    config = obj.get_config()
                except NotImplementedError:
                    return {"class": self.a_class(type(obj)), "state": self.attributes(obj, where)}
                return {"class": self.a_class(type(obj)), "config": self.describe(config, f"{where}.config")}
            if isinstance(obj, keras.callbacks.Callback):
                return {"class": self.a_class(type(obj)), "state": self.attributes(obj, where)}
        if isinstance(obj, types.ModuleType):
            return {"module": obj.__name__, "version": _module_version(obj.__name__)}
        if isinstance(obj, type):
            return self.a_class(obj)
        if callable(obj):
            return self.function(obj, where)
        raise self.fail(obj, where)

    @staticmethod
    def _class_name(cls: type) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"

    def a_class(self, cls: type) -> dict:
        described: dict[str, Any] = {"class": self._class_name(cls)}
        version = _library(cls.__module__)
        if version is not None:
            described["version"] = version
            return described
        try:
            described["source"] = textwrap.dedent(inspect.getsource(cls))
        except (OSError, TypeError):
            # No source to read (defined interactively): its methods' code stands for it.
            described["methods"] = {
                name: _code_body(member.__code__)
                for name, member in sorted(vars(cls).items())
                if isinstance(member, types.FunctionType)
            }
        return described

    def attributes(self, obj: Any, where: str) -> dict:
        """Every attribute of ``obj`` except the runtime links (:data:`RUNTIME_LINKS`)."""
        return {
            name: self.describe(value, f"{where}.{name}")
            for name, value in sorted(vars(obj).items())
            if name not in RUNTIME_LINKS
        }

    def function(self, function: Any, where: str) -> dict:
        if isinstance(function, functools.partial):
            return {
                "partial": self.function(function.func, f"{where}.func"),
                "args": self.describe(list(function.args), f"{where}.args"),
                "kwargs": self.describe(dict(function.keywords), f"{where}.keywords"),
            }
        if inspect.ismethod(function):
            return {
                "method": self.function(function.__func__, f"{where}.__func__"),
                "self": self.describe(function.__self__, f"{where}.__self__"),
            }
        code = getattr(function, "__code__", None)
        name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
        module = getattr(function, "__module__", None)
        if not isinstance(code, types.CodeType):
            # Compiled code (builtins, NumPy ufuncs): its name and library version say what it does.
            module = module or type(function).__module__
            if name is None:
                raise self.fail(function, where)
            return {"compiled": f"{module}.{name}", "version": _module_version(module)}
        version = _library(module)
        if version is not None:
            return {"function": f"{module}.{name}", "version": version}
        if id(function) in self.active:
            return {"recursive": f"{function.__module__}.{name}"}
        self.active.add(id(function))
        try:
            try:
                body: Any = textwrap.dedent(inspect.getsource(function))
            except (OSError, TypeError):
                body = _code_body(code)
            scope = getattr(function, "__globals__", {})
            reads = {}
            for global_name in sorted(_global_names(code)):
                if global_name in scope:
                    reads[global_name] = self.describe(scope[global_name], f"{where} (global {global_name!r})")
                elif hasattr(builtins, global_name):
                    reads[global_name] = {"builtin": global_name}
            closure = getattr(function, "__closure__", None) or ()
            cells = {}
            for cell_name, cell in zip(code.co_freevars, closure):
                try:
                    contents = cell.cell_contents
                except ValueError:  # an empty cell: the name is not bound yet
                    contents = None
                cells[cell_name] = self.describe(contents, f"{where} (closure {cell_name!r})")
            return {
                "function": f"{module}.{name}",
                "source": body,
                "defaults": self.describe(list(getattr(function, "__defaults__", None) or ()), f"{where} (defaults)"),
                "kwdefaults": self.describe(dict(getattr(function, "__kwdefaults__", None) or {}),
                                            f"{where} (keyword defaults)"),
                "closure": cells,
                "globals": reads,
            }
        finally:
            self.active.discard(id(function))


def fingerprint(obj: Any, *, name: str = "object") -> Any:
    """A JSON-ready, deterministic description of ``obj``, with all of its state.

    Parameters
    ----------
    obj : object
        What to describe.
    name : str, default "object"
        What to call ``obj`` in error messages.

    Raises
    ------
    TypeError
        For an object (or a part of one) that it cannot describe; the message
        names the part, such as ``config.callbacks[0].schedule``.

    Examples
    --------
    >>> fingerprint({"b": 1, "a": (0.5, "x")})
    {'a': [0.5, 'x'], 'b': 1}
    >>> import keras
    >>> fingerprint(keras.optimizers.SGD(learning_rate=0.1, momentum=0.9))["config"]["momentum"]
    0.9
    >>> fingerprint({"data": object()}, name="config")
    Traceback (most recent call last):
    ...
    TypeError: cannot fingerprint config['data']: an object of type builtins.object. ...
    """
    return _Describer().describe(obj, name)


def digest(obj: Any, *, name: str = "object") -> str:
    """The sha256 of ``fingerprint(obj)`` as canonical JSON.

    Examples
    --------
    >>> digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
    True
    >>> len(digest([1, 2, 3]))
    64
    """
    text = json.dumps(fingerprint(obj, name=name), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
