"""Optional TensorBoard logging of a training run, from the same rows as its history.csv.

Enabled by the workflow config key ``tensorboard: true`` (needs the ``tensorboard`` extra:
``pip install -e '.[tensorboard]'``); view with ``tensorboard --logdir results/<tier>``. One scalar per numeric
history column (``train_loss``, ``val_psnr_y``, ``lr``, ``seconds``, ...), the epoch as the step.
"""

from __future__ import annotations

import math
from numbers import Real
from pathlib import Path
from typing import Any, Sequence

from sisr.base.errors import ConfigError


class TensorBoardHistory:
    """Called with the run's history after every epoch; writes the rows it has not written yet.

    The first call writes every row (a resumed run's earlier epochs too) and hides what an interrupted attempt
    wrote after that point (TensorBoard's ``purge_step``), so a resumed run shows one curve.
    """

    def __init__(self, logdir: str | Path):
        try:
            from torch.utils.tensorboard import SummaryWriter  # deferred: tensorboard is an optional extra
        except ImportError as exc:  # torch's writer needs the tensorboard package
            raise ConfigError("tensorboard: true needs the tensorboard package: pip install -e '.[tensorboard]' "
                              f"({exc})") from None
        self._writer_class = SummaryWriter
        self.logdir = Path(logdir)
        self.writer = None
        self.written = 0

    def __call__(self, history: Sequence[dict[str, Any]]) -> None:
        if self.writer is None:
            start = int(history[0]["epoch"]) if history else 1
            self.writer = self._writer_class(log_dir=str(self.logdir), purge_step=start)
        for row in history[self.written:]:
            step = int(row["epoch"])
            for key, value in row.items():
                if key != "epoch" and isinstance(value, Real) and not isinstance(value, bool) \
                        and math.isfinite(float(value)):
                    self.writer.add_scalar(key, float(value), step)
        self.written = len(history)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
