"""Helpers shared by several test files, imported as ``helpers.<module>`` (pytest puts tests/ on sys.path):

- ``workflow``: the one Snakemake command builder (``snakemake_cmd``) and runners, config files, job counts;
- ``training``: tiny models, data sources and run configs for training tests;
- ``trainer``: a tiny training run in a process of its own, to be signalled (resume and fault tests);
- ``servers``: local HTTP file servers and a tiny benchmark.tar for download tests.

Fixtures stay in tests/conftest.py.
"""
