"""Test helpers shared by the tests and the benchmarks; never installed with wattlens.

- :mod:`tests.support.influxd` — :class:`~tests.support.influxd.LocalInfluxd`, a throwaway
  local ``influxd`` on free loopback ports;
- :mod:`tests.support.probe` — call a running dashboard's callbacks over HTTP as the browser does.

A free loopback port comes from :func:`wattlens.core.net.free_port` (the simulator uses it too).

How it is imported: as ``tests.support`` from the repository root, which must be on
``sys.path``. pytest puts it there (``pythonpath = ["."]`` in pyproject.toml); the benchmarks run
as modules from the root, ``python -m benchmarks.bench_store`` (``make bench`` does), where
Python itself puts the current directory first. No script edits ``sys.path``.
"""
