"""`nas predict`: classify image files with an exported model, or measure its accuracy and speed
on a data set split (onnxruntime).

Names from files (image file names, the model's class names and data set from its metadata) are
printed through :func:`nas_cli._text.printable` (errors too, by ``export_errors``): a hostile file
cannot send terminal escapes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import ProgressColumn, Task
from rich.text import Text

from nas_cli import _options as o
from nas_cli._progress import progress_bar
from nas_cli._text import printable
from nas_cli._ui import UserError, console, note
from nas_cli.commands.export import export_errors, shown
from nas_core.data import dataset_shape


def predict(
    model: Annotated[Path, typer.Argument(help="Exported model (`nas export --out`).")],
    images: Annotated[list[Path] | None, typer.Argument(
        help="Image files (decoded with Pillow, converted to the model's channels, resized).")] = None,
    top_k: Annotated[int, typer.Option(min=1, help="Classes to show per image.")] = 3,
    dataset: Annotated[str | None, typer.Option(help="Instead of files: report accuracy and images/s "
                                                     "on this data set.")] = None,
    split: Annotated[str, typer.Option(help="Split of --dataset: train, val or test.")] = "test",
    data_dir: o.DataDir = None,
    subset: o.Subset = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per onnxruntime call.")] = 256,
    device: Annotated[str, typer.Option(help="cpu, or auto (CUDA where onnxruntime-gpu has it).")] = "cpu",
) -> None:
    """Top-k classes of image files, or accuracy and images/s on a data set split."""
    with export_errors():
        if bool(images) == (dataset is not None):
            raise UserError("give image files or --dataset (one of the two)")
        if device not in ("cpu", "auto"):
            raise UserError(f"--device must be cpu or auto, not {device!r}")
        from nas_export import OnnxClassifier

        classifier = OnnxClassifier(model, providers=None if device == "cpu" else "auto")
        if images:
            _classify(classifier, images, top_k)
        else:
            _evaluate(classifier, dataset, split, data_dir, subset, batch_size)


def _classify(classifier, paths: list[Path], top_k: int) -> None:
    from nas_export import read_images

    batch = read_images(paths, classifier.channels, classifier.input_size)
    for path, ranked in zip(paths, classifier.top_k(batch, top_k)):
        console.print(f"[bold]{shown(path)}[/]", highlight=False)
        for rank, (name, prob) in enumerate(ranked, 1):
            console.print(f"  {rank}. {shown(name):<20} {prob:.4f}", highlight=False)


def _evaluate(classifier, dataset: str, split: str, data_dir: Path | None, subset: int | None,
              batch_size: int) -> None:
    check_shape(classifier, dataset)
    data = o.data_spec(dataset, data_dir, subset, seed=0, image_size=classifier.input_size).load(split, note)
    classifier.check_images(data.images[:1])  # a folder's channels are known only now
    if tuple(data.classes) != tuple(classifier.classes):
        note(f"the classes of {data.name} differ from the model's ({printable(classifier.info.dataset)}): "
             "accuracy compares class indices")
    bar = progress_bar(_Rate())
    with bar:
        task = bar.add_task("predict", total=len(data))
        found = classifier.evaluate(data.images, data.labels, batch_size,
                                    on_batch=lambda n: bar.advance(task, n))
    console.print(f"accuracy {found['accuracy']:.4f} on {found['images']:,} {data.name} {split} images, "
                  f"{found['images_per_s']:,.0f} images/s ({classifier.providers[0]}, batch {batch_size})",
                  highlight=False)


def check_shape(classifier, dataset: str) -> None:
    """Before anything is read or downloaded: the data set's images must have the model's
    channels (exit 2). Their size need not match: they are resized to the model's (a note)."""
    shape = dataset_shape(dataset)  # None for a folder: checked once its images are read
    if shape is None:
        return
    channels, size = shape
    if channels != classifier.channels:
        kind = {1: "grayscale", 3: "RGB"}
        raise UserError(f"{classifier.path.name} takes {classifier.channels}-channel images "
                        f"({kind.get(classifier.channels, '?')}), {dataset} has {channels} "
                        f"({kind.get(channels, '?')}): it was trained on {classifier.info.dataset}")
    if size != classifier.input_size:
        note(f"{dataset}: {size}x{size} images resized to the model's {classifier.input_size}x"
             f"{classifier.input_size}")


class _Rate(ProgressColumn):
    """Images per second so far."""

    def render(self, task: Task) -> Text:
        rate = task.completed / task.elapsed if task.elapsed else 0.0
        return Text(f"{rate:,.0f} img/s")
