"""Search on your own images: one sub-folder per class (PNG, JPEG, ...), decoded with Pillow.

    python examples/02_image_folder.py --data-dir path/to/images   # DIR/<class>/<image>
    python examples/02_image_folder.py --smoke                     # writes a tiny folder first

The folder is decoded once and cached as a tensor file (a changed folder is re-read), so the
second run starts at once. Everything else is the quickstart: one-shot model, search, final.
"""

import argparse
import tempfile
from pathlib import Path

import torch
from PIL import Image

from nas_core import Scorer, get_space
from nas_core.data import load_data
from nas_core.train import SupernetConfig, train_supernet


def write_demo_folder(root: Path, per_class: int = 40) -> Path:
    """A small image folder made from the synthetic data set (stands in for your photos)."""
    data = load_data("synthetic", "train", subset=per_class * 10)
    for i, (image, label) in enumerate(zip(data.images, data.labels.tolist())):
        folder = root / data.classes[label]
        folder.mkdir(parents=True, exist_ok=True)
        pixels = bytes(image.permute(1, 2, 0).flatten().tolist())  # (H, W, C) uint8, NumPy-free
        Image.frombytes("RGB", (image.shape[2], image.shape[1]), pixels).save(folder / f"{i}.png")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="DIR/<class>/<image>")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--smoke", action="store_true", help="tiny settings on a generated folder")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="nas-folder-"))
    data_dir = args.data_dir or write_demo_folder(out / "images")
    train = load_data("folder", "train", data_dir=data_dir, image_size=args.image_size, log=print)
    val = load_data("folder", "val", data_dir=data_dir, image_size=args.image_size)
    print(f"{len(train)} training and {len(val)} validation images, classes {train.classes}")

    space = "tiny" if args.smoke else "bender2018"
    config = SupernetConfig(space=space, width=4 if args.smoke else 8, cells_per_stack=1,
                            steps=6 if args.smoke else 200, batch_size=32, lr=0.2, device="cpu")
    model = train_supernet(config, train, out / "supernet")
    scorer = Scorer(model, val)
    generator = torch.Generator().manual_seed(0)
    archs = [get_space(space).sample(generator) for _ in range(4 if args.smoke else 30)]
    best = max(archs, key=lambda a: scorer(a).accuracy)
    print(f"best by one-shot accuracy: {scorer(best).accuracy:.3f}  {best}")


if __name__ == "__main__":
    main()
