"""Cost of the checkpoint content hash (``content_sha256``): save and load of a large "last" checkpoint.

The largest generator of the studies (RRDB, 23 blocks, 16.7 M parameters) with Adam state (two moments per
weight): about 200 MB. Times the hash alone, ``save_checkpoint`` / ``load_checkpoint`` (with the hash) and plain
``torch.save`` / ``torch.load`` of the same payload, each ``--repeats`` times, in a temporary folder.

    .venv/bin/python benchmarks/checkpoint_hash.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from sisr.models import create_model
from sisr.training.checkpoint import content_hash, load_checkpoint, save_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    weights = create_model("rrdb", scale=4, in_channels=3, blocks=23).state_dict()
    adam = {"state": {i: {"step": torch.tensor(5.0), "exp_avg": torch.randn_like(t), "exp_avg_sq": torch.rand_like(t)}
                      for i, t in enumerate(weights.values())}}
    payload = {"kind": "last", "model": weights, "optimizer": adam, "config": {"model": "rrdb"}}
    params = sum(t.numel() for t in weights.values()) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "checkpoint_last.pt")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            content_hash(payload)
            t1 = time.perf_counter()
            save_checkpoint(path, payload)
            t2 = time.perf_counter()
            load_checkpoint(path)
            t3 = time.perf_counter()
            torch.save(payload, path)
            t4 = time.perf_counter()
            torch.load(path, weights_only=False)
            t5 = time.perf_counter()
            print(f"{params:.1f} M parameters, {os.path.getsize(path) / 1e6:.0f} MB: hash {t1 - t0:.2f} s; "
                  f"save {t2 - t1:.2f} s (torch.save alone {t4 - t3:.2f} s); load {t3 - t2:.2f} s "
                  f"(torch.load alone {t5 - t4:.2f} s)")


if __name__ == "__main__":
    main()
