"""CPython's concurrent.futures tests, run against greenpool's executors.

Vendored from CPython v3.13.0, Lib/test/test_concurrent_futures/, under the
PSF License Agreement (LICENSE-PSF.txt); see README.md for what was adapted,
what was left out, and why.
"""
