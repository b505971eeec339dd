"""Fixtures shared by several test files (helper functions and classes: tests/helpers/)."""


import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """One torch thread (use: ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``): CI and the development
    machine have two shared cores, and spinning OpenMP threads beside BLAS cost more than they give."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
