"""Quickstart: the whole method through the library API (no CLI).

1. train a one-shot model (Bender et al. 2018, Sec. 3.2),
2. score random architectures by their one-shot accuracy (Sec. 4),
3. train the best one from scratch.

    python examples/01_quickstart.py            # Fashion-MNIST subset, a few minutes on a CPU
    python examples/01_quickstart.py --smoke    # synthetic data, seconds (what the tests run)
"""

import argparse
import tempfile
from pathlib import Path

import torch

from nas_core import Scorer, get_space
from nas_core.data import load_data
from nas_core.train import StandaloneConfig, SupernetConfig, train_standalone, train_supernet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny settings on synthetic data")
    parser.add_argument("--out", type=Path, default=None, help="run directory (default: a temp dir)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="nas-quickstart-"))
    dataset, n_train, n_val = ("synthetic", 320, 100) if args.smoke else ("fashion-mnist", 5000, 1000)
    train = load_data(dataset, "train", subset=n_train)
    val = load_data(dataset, "val", subset=n_val)

    # 1. The one-shot model: every architecture of the space in one network.
    space = "tiny" if args.smoke else "bender2018"
    supernet = SupernetConfig(space=space, width=4 if args.smoke else 8, cells_per_stack=1,
                              steps=8 if args.smoke else 150, batch_size=32 if args.smoke else 64,
                              lr=0.2, device="cpu")
    model = train_supernet(supernet, train, out / "supernet")

    # 2. Random search: sample uniformly, score each inside the one-shot model, keep the best.
    scorer = Scorer(model, val)
    generator = torch.Generator().manual_seed(0)
    archs = [get_space(space).sample(generator) for _ in range(5 if args.smoke else 30)]
    scores = sorted(((scorer(a).accuracy, a) for a in archs), key=lambda s: -s[0])
    for acc, arch in scores[:3]:
        print(f"one-shot accuracy {acc:.3f}  {arch}")

    # 3. Train the best from scratch and report its validation accuracy.
    best = scores[0][1]
    final = StandaloneConfig(width=supernet.width, cells_per_stack=1, steps=8 if args.smoke else 240,
                             batch_size=supernet.batch_size, lr=0.2, device="cpu")
    result = train_standalone(best, final, train, val, out / "best")
    print(f"best {best.id}: stand-alone val accuracy {result['val']['accuracy']:.3f}, "
          f"{result['params']:,} params; saved in {out / 'best'}")


if __name__ == "__main__":
    main()
