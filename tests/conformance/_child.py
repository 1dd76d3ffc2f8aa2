"""Imported first by the scripts CPython's tests run in a fresh interpreter.

Those scripts import ``concurrent.futures``'s executors and helpers from
``test.test_concurrent_futures``. Here, in that child interpreter only, the
stdlib's executor names give greenpool's (imported when the script imports
the executor, as the stdlib imports its own), and CPython's test module
is made importable under its own name when the suite loaded it from
elsewhere (``GREENPOOL_CONFORMANCE_MODULE``: the name it was imported as).
"""

import concurrent.futures
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys

_stdlib_getattr = concurrent.futures.__getattr__


def _getattr(name: str) -> object:
    # The stdlib imports its executors lazily, on first access; greenpool's
    # are imported at that same point, so that what the script does before
    # (registering atexit hooks, say) happens in the same order.
    if name in ("ThreadPoolExecutor", "ProcessPoolExecutor"):
        # Not before: importing greenpool registers its exit hook, and an
        # atexit hook registered later runs before it.
        greenpool = importlib.import_module("greenpool")
        return getattr(greenpool, name)
    return _stdlib_getattr(name)


assert "ThreadPoolExecutor" not in vars(concurrent.futures), "imported too early"
concurrent.futures.__getattr__ = _getattr  # type: ignore[method-assign]

_ALIAS = "test.test_concurrent_futures"
_name = os.environ.get("GREENPOOL_CONFORMANCE_MODULE", _ALIAS)


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``test.test_concurrent_futures[.x]`` as ``<_name>[.x]``, when the script does.

    Not before: the test module builds its mixins from the stdlib's executor
    names, which imports greenpool (see above).
    """

    def find_spec(self, fullname: str, path: object, target: object = None) -> object:
        if fullname == _ALIAS or fullname.startswith(_ALIAS + "."):
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> object:
        return importlib.import_module(_name + spec.name[len(_ALIAS) :])

    def exec_module(self, module: object) -> None:
        pass


if _name != _ALIAS:
    sys.meta_path.insert(0, _Alias())
