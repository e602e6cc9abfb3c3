#!/usr/bin/env bash
# GPU check for a lent device machine (see docs/benchmarks.md). Run from the repository root:
#   bash benchmarks/gpu_check.sh [SHARED_DIR]
# Installs the project if needed (the CUDA torch already on the machine is kept), runs the tests
# marked `gpu`, times the sparse forms of a one-shot training step, then a short bf16 benchmark on
# CIFAR-10 from SHARED_DIR (default ../shared): one-shot model and a stand-alone network at F = 32,
# printing images/s. A few minutes in all.
set -euo pipefail
SHARED=${1:-../shared}
DATA="$SHARED/data/cifar-10-batches-bin"
PY=${PYTHON:-python3}
if ! $PY -c "import nas_core, nas_cli" 2>/dev/null; then
  $PY -m pip install -q -e packages/core -e "packages/cli[plots,export]" -e packages/export pytest
fi
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
$PY -m pytest -q -m gpu tests || true
# Sparse per ghost batch vs batched vs dense-masked training step (docs/model.md: the GPU default,
# batched, is reasoned, not yet measured). Paper profile's shape: F = 32, batch 1,024, ghost 32.
$PY benchmarks/supernet_step.py --device cuda --width 32 --batch 1024 --steps 5 || true
# One-shot training on 1 process against one per GPU (NCCL), and the CPU rows (issue 16).
$PY benchmarks/ddp_step.py --steps 40 || true
$PY - "$DATA" <<'PYEOF'
import sys, tempfile, time, dataclasses
import torch
from nas_core import get_space
from nas_core.data import load_data
from nas_core.train import StandaloneConfig, SupernetConfig, train_standalone, train_supernet

data_dir = sys.argv[1]
train = load_data("cifar10", "train", data_dir=data_dir)
val = load_data("cifar10", "val", data_dir=data_dir, subset=1000)
for batch in (256, 1024):
    cfg = SupernetConfig(width=32, cells_per_stack=2, steps=40, batch_size=batch, device="cuda", bf16=True,
                         log_every=10, checkpoint_every=10**9)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter(); train_supernet(cfg, train, out); torch.cuda.synchronize()
        s = time.perf_counter() - start
    print(f"supernet F=32 bf16 batch {batch}: {cfg.steps * batch / s:,.0f} img/s over the ramp ({s:.1f} s, incl. start-up)")
arch = get_space("bender2018").sample(torch.Generator().manual_seed(0))
cfg = StandaloneConfig(width=32, cells_per_stack=2, steps=100, batch_size=256, device="cuda", bf16=True,
                       log_every=20, checkpoint_every=10**9)
with tempfile.TemporaryDirectory() as out:
    start = time.perf_counter(); train_standalone(arch, cfg, train, val, out); torch.cuda.synchronize()
    s = time.perf_counter() - start
print(f"stand-alone {arch.id} F=32 bf16 batch 256: {cfg.steps * 256 / s:,.0f} img/s ({s:.1f} s, incl. eval)")
PYEOF
