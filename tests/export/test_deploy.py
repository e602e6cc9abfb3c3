"""Deployment without the project: the ONNX file describes itself (doc_string, model_version,
metadata) and examples/05_serve_without_torch.py classifies images with onnxruntime, NumPy and
Pillow in a process where torch and nas_* cannot be imported, with the same results as
``OnnxClassifier``."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import onnx
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from nas_core import NetworkConfig, build_network, get_space
from nas_export import ModelInfo, OnnxClassifier, export_network, read_images
from nas_export._graph import set_metadata
from nas_export._metadata import MODEL_VERSION

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "05_serve_without_torch.py"
BLOCKED = ("torch", "nas_core", "nas_cli", "nas_export")
# Runs a script with torch and the project unimportable, then says which of them got imported.
WRAPPER = f"""
import runpy, sys
BLOCKED = {BLOCKED!r}
for name in BLOCKED:
    sys.modules[name] = None  # `import torch` (or torch.nn, nas_core...) now raises ImportError
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    loaded = sorted(m for m, v in sys.modules.items() if v is not None and m.split(".")[0] in BLOCKED)
    print("LOADED", loaded, file=sys.stderr)
"""
CLASSES = ("t-shirt", "trouser", "pullover", "dress")


@pytest.fixture(scope="module", params=[(1, 12), (3, 10)], ids=["gray", "rgb"])
def exported(request, tmp_path_factory):
    """A tiny network (random weights, settled batch norms) exported to ONNX: (path, info)."""
    channels, size = request.param
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    arch = get_space("tiny").sample(torch.Generator().manual_seed(3))
    config = NetworkConfig(width=4, cells_per_stack=1, in_channels=channels, num_classes=len(CLASSES))
    torch.manual_seed(0)
    net = build_network(arch, config)
    with torch.no_grad():
        for _ in range(3):
            net.train()(torch.randn(32, channels, size, size))
    info = ModelInfo(arch, config, CLASSES, size, (0.3,) * channels, (0.2,) * channels, "fashion-mnist")
    out = tmp_path_factory.mktemp("deploy") / "model.onnx"
    x = torch.randint(0, 256, (16, channels, size, size), dtype=torch.uint8, generator=torch.Generator())
    export_network(net.eval(), info, out, images=x)
    yield out, info
    torch.set_num_threads(threads)


@pytest.fixture
def pictures(tmp_path):
    """Image files of other sizes and modes than the model takes."""
    gen = torch.Generator().manual_seed(0)
    paths = []
    for name, mode, (w, h) in [("a.png", "RGB", (40, 30)), ("b.jpg", "L", (20, 26)), ("c.png", "RGBA", (17, 17))]:
        pixels = torch.randint(0, 256, (h * w * len(mode),), dtype=torch.uint8, generator=gen)
        Image.frombytes(mode, (w, h), bytes(pixels.tolist())).save(tmp_path / name)
        paths.append(tmp_path / name)
    return paths


def test_the_file_says_what_it_is_in_doc_string_and_model_version(exported):
    out, info = exported
    proto = onnx.load(str(out))
    text = proto.doc_string
    assert proto.model_version == MODEL_VERSION == 1
    assert info.arch_id in text and "fashion-mnist" in text and "uint8 NCHW" in text and "0-255" in text
    assert f"(batch, {info.channels}, {info.input_size}, {info.input_size})" in text
    assert "'logits'" in text and f"(batch, {len(CLASSES)}) logits" in text and "nas.classes" in text
    meta = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).get_modelmeta()
    assert meta.description == text and meta.version == MODEL_VERSION  # what generic tools show


def test_int8_metadata_says_so_in_the_doc_string(exported):
    out, info = exported
    proto = onnx.load(str(out))
    set_metadata(proto, dataclasses.replace(info, quantization="int8"))
    assert "int8 (QDQ)" in proto.doc_string and proto.model_version == MODEL_VERSION
    assert "int8 (QDQ)" not in onnx.load(str(out)).doc_string


def run_without_torch(tmp_path, *args):
    wrapper = tmp_path / "no_torch.py"
    wrapper.write_text(WRAPPER)
    return subprocess.run([sys.executable, str(wrapper), str(EXAMPLE), *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})


def parse_top_k(stdout: str) -> dict[str, list[tuple[str, float]]]:
    """``{image path: [(class, probability), ...]}`` from the example's output."""
    found, current = {}, None
    for line in stdout.splitlines()[1:]:
        if not line.startswith("  "):
            current = found.setdefault(line, [])
        else:
            name, prob = line.split(". ", 1)[1].rsplit(maxsplit=1)
            current.append((name, float(prob)))
    return found


def test_example_serves_without_torch_like_onnx_classifier(exported, pictures, tmp_path):
    out, info = exported
    result = run_without_torch(tmp_path, out, *pictures, "--top-k", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LOADED []" in result.stderr, result.stderr  # neither torch nor nas_* was imported
    header = result.stdout.splitlines()[0]
    assert info.arch_id in header and f"{info.channels}x{info.input_size}x{info.input_size}" in header
    assert f"model_version {MODEL_VERSION}" in header
    got = parse_top_k(result.stdout)
    expected = OnnxClassifier(out).top_k(read_images(pictures, info.channels, info.input_size), k=3)
    assert list(got) == [str(p) for p in pictures]
    for path, ranked in zip(pictures, expected):
        assert [name for name, _ in got[str(path)]] == [name for name, _ in ranked]
        assert [p for _, p in got[str(path)]] == pytest.approx([p for _, p in ranked], abs=1e-4)


def test_the_wrapper_really_blocks_torch(tmp_path):
    """The isolation the test above relies on: a script importing torch fails under the wrapper."""
    script = tmp_path / "uses_torch.py"
    script.write_text("import torch\n")
    wrapper = tmp_path / "no_torch.py"
    wrapper.write_text(WRAPPER)
    result = subprocess.run([sys.executable, str(wrapper), str(script)], capture_output=True, text=True,
                            timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr


def test_example_refuses_a_file_without_our_metadata(exported, pictures, tmp_path):
    out, _ = exported
    proto = onnx.load(str(out))
    del proto.metadata_props[:]
    foreign = tmp_path / "foreign.onnx"
    onnx.save(proto, str(foreign))
    result = run_without_torch(tmp_path, foreign, pictures[0])
    assert result.returncode == 1 and "not a model exported by nas export" in result.stderr
