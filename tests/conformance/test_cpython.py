"""CPython's ``concurrent.futures`` tests, loaded at run time, against greenpool.

See README.md: where the tests come from (``cpython_tests.py``), what is
substituted and adapted (``_cpython.py``), and the known deviations
(``conftest.py``). This module only puts the selected test classes where
pytest collects them; if the tests cannot be found, importing it fails with
instructions.
"""

from ._cpython import load

SOURCE, _CLASSES, UNMATCHED_OVERRIDES = load()
globals().update({cls.__name__: cls for cls in _CLASSES})
