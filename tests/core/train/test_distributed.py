"""Training on several processes: gradient averaging on real Gloo process groups, data shards,
mask slices, the checks that refuse a batch the processes cannot share, synchronised batch norm."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from nas_core import Architecture, build_network, get_space
from nas_core.data import DeviceLoader, derived_generator, load_data
from nas_core.errors import InputError
from nas_core.network import NetworkConfig
from nas_core.train import StandaloneConfig, SupernetConfig, World, build_supernet
from nas_core.train.distributed import average_gradients, sync_batch_norm

CONFIG = SupernetConfig(space="tiny", width=4, cells_per_stack=1, steps=1, batch_size=32, ghost_batch=8,
                        dropout_rate=0.5, seed=5)
GHOSTS = CONFIG.batch_size // CONFIG.ghost_batch


def _data():
    return load_data("synthetic", "train", image_size=12, subset=64)


def _gradients(rank: int, ranks: int) -> dict[str, torch.Tensor]:
    """One training step's gradients on ``rank``'s share of the global batch (averaged over ranks)."""
    data = _data()
    torch.manual_seed(CONFIG.seed)
    model = build_supernet(CONFIG, data)
    x, y = next(iter(DeviceLoader(data, CONFIG.batch_size, train=True, seed=1, shard=(rank, ranks))))
    # Late in the ramp, so that many paths are off and some are off on one rank only.
    masks = model.path_dropout(GHOSTS, CONFIG.dropout_rate, 1.0, derived_generator(CONFIG.seed, "test"))
    mine = slice(rank * GHOSTS // ranks, (rank + 1) * GHOSTS // ranks)
    F.cross_entropy(model(x, masks=masks.select(mine)), y).backward()
    average_gradients(list(model.parameters()), World(rank, ranks))
    return {name: p.grad for name, p in model.named_parameters() if p.grad is not None}


def _rank_main(rank: int, ranks: int, init_file: str, out: str) -> None:
    """One rank of a Gloo group (run as ``python THIS_FILE RANK RANKS INIT_FILE OUT``)."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=ranks)
    try:
        save_file({k: v.contiguous() for k, v in _gradients(rank, ranks).items()}, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_give_the_gradients_of_one_process(tmp_path):
    args = [str(tmp_path / "init"), str(tmp_path / "grads")]
    ranks = [subprocess.Popen([sys.executable, __file__, str(r), "2", *args]) for r in range(2)]
    assert [p.wait(timeout=120) for p in ranks] == [0, 0]
    alone = _gradients(0, 1)
    for rank in range(2):
        shared = load_file(tmp_path / f"grads.{rank}")
        # A parameter no ghost batch used has no gradient on any rank, as in one process.
        assert set(shared) == set(alone)
        assert len(alone) < sum(1 for _ in build_supernet(CONFIG, _data()).parameters())
        for name, grad in alone.items():
            torch.testing.assert_close(shared[name], grad, rtol=1e-5, atol=1e-7, msg=name)


def test_shards_of_a_batch_are_its_equal_slices():
    data = _data()
    whole = next(iter(DeviceLoader(data, 32, train=True, seed=2)))
    parts = [next(iter(DeviceLoader(data, 32, train=True, seed=2, shard=(r, 4)))) for r in range(4)]
    assert torch.equal(torch.cat([x for x, _ in parts]), whole[0])
    assert torch.equal(torch.cat([y for _, y in parts]), whole[1])
    with pytest.raises(ValueError, match="equal parts"):
        DeviceLoader(data, 30, train=True, shard=(0, 4))


def test_masks_select_keeps_the_chosen_ghost_batches():
    model = build_supernet(CONFIG, _data())
    masks = model.path_dropout(4, 0.5, 1.0, torch.Generator().manual_seed(0))
    part = masks.select(slice(1, 3))
    assert part.ghosts == 2
    assert torch.equal(part.ops, masks.ops[:, 1:3]) and torch.equal(part.inputs, masks.inputs[:, 1:3])


def test_a_batch_the_processes_cannot_share_is_refused_in_one_line():
    CONFIG.check_world(4)  # 4 ghost batches over 4 processes: fine
    with pytest.raises(InputError, match="4 ghost batches of 8, which do not split evenly over 3"):
        CONFIG.check_world(3)
    with pytest.raises(InputError, match="batch of 30 does not split evenly over 4"):
        StandaloneConfig(batch_size=30).check_world(4)


def test_sync_batch_norm_keeps_weights_and_outputs():
    space = get_space("tiny")
    arch = Architecture.from_json(space.sample(torch.Generator().manual_seed(0)).to_json())
    torch.manual_seed(0)
    net = build_network(arch, NetworkConfig(4, 1, 3, 10))
    x = torch.randn(8, 3, 12, 12)
    net.train()
    net(x)  # move the running statistics off their initial values
    net.eval()
    before = net(x)
    synced = sync_batch_norm(net)
    assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in synced.modules())
    torch.testing.assert_close(synced(x), before)


@pytest.mark.slow
def test_a_restarted_rank_that_joins_late_meets_the_new_attempt_not_the_dead_one(tmp_path):
    # torchrun keeps one store for all restarts; a rank of the second attempt must not read the
    # address a killed rank published in the first (the CI failure of stop 18).
    script = Path(__file__).with_name("_restart_rank.py")
    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NAS_TEST_OUT": str(tmp_path)}
    out = subprocess.run([str(torchrun), "--standalone", "--nproc-per-node=2", "--max-restarts=1", str(script)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    second = {p.name: p.read_text() for p in tmp_path.glob("attempt1.*")}
    assert second == {"attempt1.rank0": "sum 2", "attempt1.rank1": "sum 2"}


if __name__ == "__main__":
    _rank_main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
