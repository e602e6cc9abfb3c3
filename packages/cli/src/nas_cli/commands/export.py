"""`nas export`: a trained network to one ONNX file, checked against PyTorch, optionally int8.

Exit codes: 0 written; 2 a mistake the user can fix (missing model, bad option, unreadable
data); 1 the exported graph disagrees with PyTorch (parity), in which case nothing is written.
nas-export is imported when a command runs, so `nas` starts without onnx/onnxruntime.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from nas_cli._text import printable
from nas_cli._ui import UserError, console, error, note, user_errors
from nas_core.errors import InputError


class Quantization(str, Enum):
    int8 = "int8"


@contextmanager
def export_errors() -> Iterator[None]:
    """:func:`user_errors` (nas-export's ExportError is one: exit 2), plus ParityError -> exit 1.
    Messages name files, and names in files (image paths, metadata): they are made printable."""
    with user_errors():
        try:
            from nas_export import ParityError  # optional package
        except ImportError:
            raise UserError("nas-export is not installed (pip install -e packages/export)") from None
        try:
            yield
        except ParityError as e:
            raise error("export failed", printable(str(e)), 1) from None
        except InputError as e:
            raise UserError(printable(e.message), printable(e.hint)) from None


def export(
    source: Annotated[Path, typer.Argument(help="Model directory (`nas train --out`) or run directory "
                                                "(`nas run --out`: its best/ is exported).")],
    out: Annotated[Path, typer.Option(help="The .onnx file to write; the report goes to OUT.json.")],
    quantize: Annotated[Quantization | None, typer.Option(
        help="int8: static QDQ quantization (OUT is int8; the float model is kept as "
             "STEM.fp32.onnx).")] = None,
    calibration: Annotated[int, typer.Option(min=1, help="Training images for int8 calibration.")] = 256,
    data_dir: Annotated[Path | None, typer.Option(
        resolve_path=True, help="Where the data set's files are (else the cache and system locations; "
                                "export never downloads).")] = None,
    subset: Annotated[int, typer.Option(min=1, help="Validation images for the parity check.")] = 500,
    image_size: Annotated[int | None, typer.Option(help="Input size in pixels, only where the model "
                                                      "directory does not record it.")] = None,
    opset: Annotated[int, typer.Option(help="ONNX opset (18 to the newest torch.onnx writes).")] = 18,
) -> None:
    """Export a trained network to ONNX, checked against PyTorch; optionally int8.

    The file takes uint8 NCHW images (0-255) and normalises them itself; parity with PyTorch is
    measured on validation images before the file is written."""
    with export_errors():
        from nas_export import export_onnx

        report = export_onnx(source, out, quantize=quantize.value if quantize else None,
                             calibration=calibration, data_dir=data_dir, subset=subset,
                             image_size=image_size, opset=opset, log=note)
    _summary(report)


def _summary(report: dict) -> None:
    parity, fp32, int8 = report["parity"], report["fp32"], report["int8"]
    table = Table("", "fp32", title=f"exported {report['arch_id']}")
    if int8 is not None:
        table.add_column("int8")
    rows = [
        ("file", shown(fp32["path"]), int8 and shown(int8["path"])),
        ("size", f"{fp32['bytes'] / 1024:,.0f} KiB", int8 and f"{int8['bytes'] / 1024:,.0f} KiB"),
        ("latency, batch 1", f"{fp32['latency_ms_batch1']:.2f} ms",
         int8 and f"{int8['latency_ms_batch1']:.2f} ms"),
        ("top-1 agreement", f"{parity['top1_agreement']:.2%} with PyTorch",
         int8 and f"{int8['vs_fp32']['top1_agreement']:.2%} with fp32"),
        ("max abs logit diff", f"{parity['max_abs_diff']:.2e} vs PyTorch",
         int8 and f"{int8['vs_fp32']['max_abs_diff']:.2e} vs fp32"),
    ]
    if "accuracy" in parity:
        rows.append(("accuracy", f"{parity['accuracy']:.4f}",
                     int8 and f"{int8['vs_fp32']['accuracy']:.4f}"))
    for name, a, b in rows:
        table.add_row(name, a, *([b] if int8 is not None else []))
    console.print(table)
    console.print(f"parity checked on {shown(parity['data'])}; report: {shown(report['onnx'])}.json",
                  highlight=False)


def shown(text: object) -> str:
    """A path or a name from a file, as rich markup that prints it literally and harmlessly."""
    return escape(printable(str(text)))
