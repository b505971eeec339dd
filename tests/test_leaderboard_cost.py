"""The leaderboard's cost columns: FLOPs counted on the meta device equal those of a real forward pass on the CPU."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from sisr.models import SPECS, count_parameters, create_model
from sisr.report.leaderboard import model_cost


@pytest.mark.parametrize("name", sorted(SPECS))
def test_meta_device_count_equals_a_cpu_pass(name):
    torch.manual_seed(0)
    channels = SPECS[name].in_channels[-1]
    model = create_model(name, scale=4, in_channels=channels).eval()
    x = torch.rand(1, channels, 32, 32)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(x)
    cost = model_cost(model, in_channels=channels, lr_size=32)
    assert cost["params"] == count_parameters(model)
    assert cost["gflops_per_mp"] == counter.get_total_flops() / 1e9 / (y.shape[-1] * y.shape[-2] / 1e6)
    assert next(model.parameters(), torch.zeros(1)).device.type == "cpu"  # the model itself stays where it was
