"""Where CPython's ``concurrent.futures`` tests come from, and how to fetch them.

The repository holds none of CPython's code: the conformance suite loads
CPython's tests at run time from where they are installed, first found of

1. ``$GREENPOOL_CPYTHON_TESTS``: a directory holding ``test_concurrent_futures``
   (a CPython checkout's ``Lib/test``, say);
2. the running interpreter's own ``test`` package (pyenv's and python.org's
   builds ship it: ``test/test_concurrent_futures/`` from 3.12 on,
   ``test/test_concurrent_futures.py`` before);
3. a Debian ``libpython3.X-testsuite`` unpacked under ``build/cpython-tests/``
   by ``python tests/conformance/cpython_tests.py`` (this file run as a
   script): the one for the running Python's version, else the newest older
   one (Debian 12 has only 3.11's, so Python 3.12 runs 3.11's tests).

Run as a script it fetches that package if the interpreter has no tests of
its own, then prints what the suite will load. The tests import the
running interpreter's ``test.support``; a Python without it cannot run them.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import NamedTuple

ENV_VAR = "GREENPOOL_CPYTHON_TESTS"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(ROOT, "build", "cpython-tests")
NAME = "test_concurrent_futures"
FETCH = "python tests/conformance/cpython_tests.py"


class Source(NamedTuple):
    directory: str  # the directory holding test_concurrent_futures(.py)
    origin: str  # where it came from, for the report header and messages
    own: bool  # the running interpreter's own test package

    @property
    def is_package(self) -> bool:
        return os.path.isdir(os.path.join(self.directory, NAME))


class MissingSource(RuntimeError):
    pass


def _holds_tests(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, NAME, "__init__.py")) or os.path.isfile(
        os.path.join(directory, NAME + ".py")
    )


def _own() -> Source | None:
    spec = importlib.util.find_spec("test")
    if spec is None or not spec.submodule_search_locations:
        return None
    for directory in spec.submodule_search_locations:
        if _holds_tests(directory):
            return Source(directory, f"this interpreter's test package ({directory})", True)
    return None


def _minor(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def _fetched() -> Source | None:
    """The unpacked Debian test suite nearest to (and not newer than) this Python."""
    found = []
    for directory in glob.glob(os.path.join(CACHE, "*", "usr", "lib", "python3.*", "test")):
        version = _minor(os.path.basename(os.path.dirname(directory))[len("python") :])
        if version <= sys.version_info[:2] and _holds_tests(directory):
            found.append((version, directory))
    if not found:
        return None
    _, directory = max(found)
    package = os.path.relpath(directory, CACHE).split(os.sep)[0]
    return Source(directory, f"Debian's {package} ({directory})", False)


def find() -> Source:
    """The CPython tests to load, or :class:`MissingSource` saying how to get them."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        if not _holds_tests(explicit):
            raise MissingSource(f"${ENV_VAR}={explicit!r} holds no {NAME}(.py)")
        return Source(os.path.abspath(explicit), f"${ENV_VAR} ({explicit})", False)
    source = _own() or _fetched()
    if source is None:
        raise MissingSource(
            f"CPython's concurrent.futures tests are not installed for "
            f"Python {sys.version.split()[0]} ({sys.executable}): its test package has no "
            f"{NAME}, and nothing was fetched into {CACHE}.\n"
            f"On Debian or Ubuntu, fetch them with `{FETCH}` (apt-get download "
            f"libpython3.X-testsuite, unpacked there; no root needed); elsewhere point "
            f"${ENV_VAR} at a CPython checkout's Lib/test of the same version."
        )
    return source


def _apt_candidates() -> list[str]:
    """Debian's test-suite packages, this Python's first, then older ones, newest first."""
    out = subprocess.run(
        ["apt-cache", "search", "--names-only", r"^libpython3\.[0-9]+-testsuite$"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = re.findall(r"^(libpython(3\.\d+)-testsuite)\b", out, re.MULTILINE)
    usable = [(_minor(v), n) for n, v in names if _minor(v) <= sys.version_info[:2]]
    return [name for _, name in sorted(usable, reverse=True)]


def fetch() -> Source:
    """Fetch Debian's test suite unless this interpreter has its own; the source to use."""
    source = _own() or _fetched()
    if source is not None:
        return source
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise MissingSource(
            f"this system has no apt-get/dpkg-deb to fetch CPython's tests with; point "
            f"${ENV_VAR} at a CPython checkout's Lib/test for Python {sys.version.split()[0]}"
        )
    candidates = _apt_candidates()
    if not candidates:
        raise MissingSource(
            f"apt knows no libpython3.X-testsuite for Python {sys.version_info[0]}."
            f"{sys.version_info[1]} or older (run `apt-get update`?); or point ${ENV_VAR} at a "
            f"CPython checkout's Lib/test"
        )
    package = candidates[0]
    os.makedirs(CACHE, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as download:
        subprocess.run(["apt-get", "download", package], cwd=download, check=True)
        (deb,) = glob.glob(os.path.join(download, "*.deb"))
        unpacked = os.path.join(download, "unpacked")
        subprocess.run(["dpkg-deb", "-x", deb, unpacked], check=True)
        with open(os.path.join(unpacked, "DEBIAN-PACKAGE"), "w") as f:
            f.write(os.path.basename(deb) + "\n")
        try:
            # Atomic: a run looking for the tests meanwhile sees all or nothing.
            os.rename(unpacked, os.path.join(CACHE, package))
        except OSError:
            if _fetched() is None:  # Not another fetch that got there first.
                raise
    source = _fetched()
    if source is None:
        raise MissingSource(f"{package} holds no {NAME}")
    return source


def main() -> int:
    try:
        source = fetch()
    except (MissingSource, subprocess.CalledProcessError) as exc:
        print(f"cpython_tests: {exc}", file=sys.stderr)
        return 1
    print(
        f"CPython's concurrent.futures tests for Python {sys.version.split()[0]}: {source.origin}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
