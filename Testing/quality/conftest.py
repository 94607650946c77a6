"""Quality-estimator tests run torch single-threaded: on the 2-core CI machine that was the faster setting."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def single_threaded_torch():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
