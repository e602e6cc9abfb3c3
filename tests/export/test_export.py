"""ONNX export of random architectures of every registered space: checker, parity with PyTorch,
dynamic batch, metadata round trip, atomic writes, parity failure."""

import json
import os
import subprocess
import sys

import onnx
import pytest
import torch

from nas_core import NetworkConfig, build_network, get_space, list_spaces
from nas_export import (
    ExportError,
    ModelInfo,
    OnnxClassifier,
    ParityError,
    Uint8Classifier,
    export_network,
    report_path,
)

# (channels, pixels) per space: grayscale and colour both covered
SHAPES = {"tiny": (3, 16), "bender2018": (1, 28)}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks gain nothing from threads, and lose a lot on a busy shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_network(space_name: str, seed: int = 0):
    """A random architecture with settled batch-norm statistics, and its :class:`ModelInfo`."""
    channels, size = SHAPES.get(space_name, (3, 16))
    arch = get_space(space_name).sample(torch.Generator().manual_seed(seed))
    config = NetworkConfig(width=4, cells_per_stack=1, in_channels=channels, num_classes=5)
    torch.manual_seed(seed)
    net = build_network(arch, config)
    with torch.no_grad():
        for _ in range(4):  # running statistics of random inputs, so eval outputs are O(1)
            net.train()(torch.randn(32, channels, size, size))
    info = ModelInfo(arch, config, tuple("abcde"), size, (0.5,) * channels, (0.25,) * channels, "synthetic")
    return net.eval(), info


def images(info: ModelInfo, n: int, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *info.input_shape), generator=gen, dtype=torch.uint8)


@pytest.fixture(scope="module", params=list_spaces())
def exported(request, tmp_path_factory):
    net, info = make_network(request.param)
    out = tmp_path_factory.mktemp(request.param) / "model.onnx"
    report = export_network(net, info, out, images=images(info, 64))
    return net, info, out, report


def test_file_passes_the_full_checker_and_is_self_contained(exported):
    _, _, out, report = exported
    onnx.checker.check_model(str(out), full_check=True)
    proto = onnx.load(str(out))
    assert [d.version for d in proto.opset_import if d.domain in ("", "ai.onnx")][0] >= 18
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.onnx", "model.onnx.json"]  # no temp, no data file
    assert json.loads(report_path(out).read_text()) == json.loads(json.dumps(report))


def test_graph_input_is_uint8_nchw_with_a_dynamic_batch(exported):
    _, info, out, _ = exported
    (graph_input,) = onnx.load(str(out)).graph.input
    assert graph_input.name == "images"
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = graph_input.type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == list(info.input_shape)


@pytest.mark.parametrize("batch", [1, 7, 64])
def test_parity_on_the_float_path_at_every_batch_size(exported, batch):
    net, info, out, _ = exported
    x = images(info, batch, seed=batch)
    with torch.no_grad():
        reference = Uint8Classifier(net, info.mean, info.std).eval()(x)
    logits = OnnxClassifier(out).predict(x)
    assert logits.shape == (batch, 5) and logits.dtype == torch.float32
    assert (logits - reference).abs().max() <= 1e-4
    assert torch.equal(logits.argmax(1), reference.argmax(1))


def test_wrapper_normalises_like_training(exported):
    net, info, _, _ = exported
    x = images(info, 3)
    mean, std = torch.tensor(info.mean).view(1, -1, 1, 1), torch.tensor(info.std).view(1, -1, 1, 1)
    with torch.no_grad():
        expected = net((x.float() / 255 - mean) / std)
        got = Uint8Classifier(net, info.mean, info.std)(x)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_report_records_parity_and_figures(exported):
    _, info, out, report = exported
    parity = report["parity"]
    assert parity["images"] == 64 and parity["top1_agreement"] == 1.0 and parity["max_abs_diff"] <= 1e-4
    assert report["arch_id"] == info.arch_id and report["input"]["shape"] == ["batch", *info.input_shape]
    assert report["fp32"]["bytes"] == out.stat().st_size and report["fp32"]["latency_ms_batch1"] > 0
    assert report["int8"] is None and report["quantization"] == "none"


def test_metadata_round_trip(exported):
    _, info, out, _ = exported
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(props["nas.classes"]) == list("abcde") and props["nas.arch_id"] == info.arch_id
    assert int(props["nas.input_size"]) == info.input_size and int(props["nas.channels"]) == info.channels
    assert props["nas.dataset"] == "synthetic" and json.loads(props["nas.mean"]) == list(info.mean)
    assert ModelInfo.from_metadata(props, "x") == info
    served = OnnxClassifier(out)
    assert served.arch == info.arch and served.classes == info.classes
    assert (served.input_size, served.channels) == (info.input_size, info.channels)


def test_no_exporter_debug_records_in_the_file(exported):
    """Stack traces with local paths stay out of the deployed file."""
    _, _, out, _ = exported
    data = out.read_bytes()
    assert b"stack_trace" not in data and b"pkg.torch.onnx" not in data and b"nas_core/" not in data


def test_parity_failure_writes_nothing(tmp_path):
    net, info = make_network("tiny")
    out = tmp_path / "model.onnx"
    with pytest.raises(ParityError, match="agreement"):
        export_network(net, info, out, images=images(info, 8), min_agreement=1.01)
    assert not any(tmp_path.iterdir())


def test_existing_file_is_replaced_only_when_the_export_succeeds(tmp_path):
    net, info = make_network("tiny")
    out = tmp_path / "model.onnx"
    out.write_bytes(b"previous")
    with pytest.raises(ExportError, match="channel"):  # parity images of the wrong shape
        export_network(net, info, out, images=torch.zeros(2, 1, 16, 16, dtype=torch.uint8))
    assert out.read_bytes() == b"previous" and sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_temporary_files_of_a_killed_export_are_removed_but_not_a_running_ones(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f".model.onnx.{int(gone.stdout)}.0badc0de.tmp"  # its process has ended
    running = tmp_path / f".model.onnx.{os.getpid()}.0badc0de.tmp"  # this process: still running
    other = tmp_path / f".other.onnx.{int(gone.stdout)}.0badc0de.tmp"  # another file's
    for path in (orphan, running, other):
        path.write_bytes(b"half an export")
    net, info = make_network("tiny")
    export_network(net, info, tmp_path / "model.onnx", images=images(info, 4))
    kept = ["model.onnx", "model.onnx.json", running.name, other.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)


def test_model_info_validates():
    _, info = make_network("tiny")
    with pytest.raises(ExportError, match="class names"):
        ModelInfo(info.arch, info.network, ("a",), 16, info.mean, info.std, "synthetic")
    with pytest.raises(ExportError, match="per channel"):
        ModelInfo(info.arch, info.network, info.classes, 16, (0.5,), (0.2,), "synthetic")
