"""One rank of ``torchrun --max-restarts 1`` (tests/core/train/test_distributed.py): joins the group
with init_world; in the first attempt rank 1 dies with SIGKILL after one all-reduce, and in the
second it joins late, so rank 0 would read the dead rank's address if the attempts shared keys.
Each rank writes its result to a file of its own in $NAS_TEST_OUT (torchrun's agent may interleave
the ranks' stdout, as a CI run once showed)."""

import os
import signal
import time
from pathlib import Path

import torch

from nas_core.train.distributed import all_sum, init_world

attempt = int(os.environ["TORCHELASTIC_RESTART_COUNT"])
if attempt == 1 and os.environ["RANK"] == "1":
    time.sleep(3)
world = init_world(torch.device("cpu"))
total = all_sum(torch.ones(1), world)
if attempt == 0 and world.rank == 1:
    os.kill(os.getpid(), signal.SIGKILL)
world.barrier()
out = Path(os.environ["NAS_TEST_OUT"]) / f"attempt{attempt}.rank{world.rank}"
out.write_text(f"sum {int(total.item())}")
