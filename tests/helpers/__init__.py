"""Helpers shared by several test files (imported as ``helpers.<module>``; pytest puts tests/ on sys.path).

- ``helpers.workflow``: the one Snakemake command builder and runner used by every test that runs Snakemake.
- ``helpers.training``: tiny models, sources and configs for training tests.
"""
