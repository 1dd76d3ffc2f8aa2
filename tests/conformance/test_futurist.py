"""futurist's own tests (shipped in the installed futurist), with ``futurist`` as greenpool.

See ``_futurist.py`` for how they are loaded and README.md for the tests left
out (``conftest.py`` deselects them). A module that cannot be imported
through the alias fails here, as one test, with its import error.
"""

import pytest

from ._futurist import load

_CLASSES, _BROKEN = load()
globals().update({cls.__name__: cls for cls in _CLASSES})


def _failing(module: str, error: BaseException):
    def test() -> None:
        pytest.fail(f"futurist.tests.{module}: {type(error).__name__}: {error}", pytrace=False)

    return test


for _module, _error in _BROKEN.items():
    globals()[f"test_{_module}_imports_through_the_alias"] = _failing(_module, _error)
