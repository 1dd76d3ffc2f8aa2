"""dask_exit.py under ``eventlet.monkey_patch()``: the executor's client in a helper process.

The same calls and lines as dask_exit.py; at exit the helper is told to
stop once its calls have ended, and is waited for. Run by
tests/test_exit_kinds.py.
"""

import eventlet

eventlet.monkey_patch()

import os  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dask_exit  # noqa: E402

if __name__ == "__main__":
    dask_exit.main()
