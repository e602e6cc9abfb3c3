"""export_onnx from a trained model directory: int8 quantization, data fall-backs, run dirs."""

import json
import shutil

import onnx
import onnxruntime as ort
import pytest
import torch

from nas_core import get_space
from nas_core.data import load_data
from nas_core.train import StandaloneConfig, train_standalone
from nas_export import ExportError, OnnxClassifier, export_onnx


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny network trained for a few dozen steps on synthetic data (accuracy well above chance)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny network: threads only add overhead on a busy CPU
    splits = {s: load_data("synthetic", s, image_size=16, subset=n)
              for s, n in (("train", 640), ("val", 200), ("test", 500))}
    arch = get_space("tiny").sample(torch.Generator().manual_seed(0))
    config = StandaloneConfig(width=8, cells_per_stack=1, steps=40, batch_size=32, lr=0.4,
                              log_every=20, checkpoint_every=40, device="cpu")
    out = tmp_path_factory.mktemp("trained")
    result = train_standalone(arch, config, splits["train"], splits["val"], out, test=splits["test"])
    yield out, result, splits["test"]
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def int8(trained, tmp_path_factory):
    model_dir, _, test = trained
    out = tmp_path_factory.mktemp("int8") / "model.onnx"
    return out, export_onnx(model_dir, out, quantize="int8", calibration=128, images=test)


def test_int8_accuracy_within_two_points_of_fp32(trained, int8):
    _, result, _ = trained
    out, report = int8
    fp32, q = report["parity"], report["int8"]["vs_fp32"]
    assert fp32["accuracy"] > 0.4  # chance is 0.1
    assert fp32["accuracy_reference"] == pytest.approx(result["test"]["accuracy"], abs=1e-6)
    assert abs(q["accuracy"] - fp32["accuracy"]) <= 0.02
    assert q["top1_agreement"] >= 0.95 and report["int8"]["calibration_images"] == 128


def test_int8_files_metadata_and_report(int8):
    out, report = int8
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.fp32.onnx", "model.onnx", "model.onnx.json"]
    assert OnnxClassifier(out).info.quantization == "int8"
    assert OnnxClassifier(out.with_name("model.fp32.onnx")).info.quantization == "none"
    assert report["quantization"] == "int8" and report["int8"]["bytes"] == out.stat().st_size
    assert json.loads((out.parent / "model.onnx.json").read_text())["int8"]["path"] == str(out)
    onnx.checker.check_model(str(out), full_check=True)


def test_int8_graph_is_qdq_per_channel_with_a_float_normalisation(int8):
    graph = onnx.load(str(int8[0])).graph
    ops = [n.op_type for n in graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    inits = {i.name: i for i in graph.initializer}
    weight_scales = [inits[n.input[1]] for n in graph.node if n.op_type == "DequantizeLinear"
                     and n.input[0] in inits and inits[n.input[0]].data_type == onnx.TensorProto.INT8]
    assert weight_scales and any(len(s.dims) == 1 and s.dims[0] > 1 for s in weight_scales)  # per channel
    producers = {o: n.op_type for n in graph.node for o in n.output}
    cast = next(n for n in graph.node if "images" in n.input)
    assert cast.op_type == "Cast"
    normalise = [n for n in graph.node if n.op_type in ("Mul", "Sub")]
    assert normalise and all(producers.get(i) != "DequantizeLinear" for n in normalise for i in n.input)


def test_int8_weights_have_seven_bits_so_the_cpu_kernels_compute_the_graph(trained, int8):
    """Without VNNI, onnxruntime's uint8 x int8 kernels add pairs of products in int16, which
    saturates once 2 * 255 * |w| passes 32767; 8-bit weights gave 94% agreement with the graph."""
    graph = onnx.load(str(int8[0])).graph
    inits = {i.name: i for i in graph.initializer}
    weights = [inits[n.input[0]] for n in graph.node if n.op_type == "DequantizeLinear"
               and n.input[0] in inits and inits[n.input[0]].data_type == onnx.TensorProto.INT8]
    assert weights and max(torch.tensor(onnx.numpy_helper.to_array(w)).abs().max().item() for w in weights) <= 64
    x = trained[2].images
    unfused = ort.SessionOptions()
    unfused.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # Q/DQ in float
    session = ort.InferenceSession(str(int8[0]), unfused, providers=["CPUExecutionProvider"])
    exact = torch.from_numpy(session.run(None, {"images": x.numpy()})[0])
    fused = OnnxClassifier(int8[0]).predict(x)  # QLinearConv/QGemm kernels
    assert (exact.argmax(1) == fused.argmax(1)).float().mean() >= 0.99
    assert (exact - fused).abs().max() < 0.25  # saturation: 0.84-1.81 on tiny models


@pytest.fixture(scope="module")
def from_run_dir(trained, tmp_path_factory):
    """An export from a run directory (the model in its ``best/``), with no parity images given."""
    folder = tmp_path_factory.mktemp("from_run")
    shutil.copytree(trained[0], folder / "run" / "best")
    return folder / "run", export_onnx(folder / "run", folder / "m.onnx", subset=50)


def test_export_from_a_run_directory(trained, from_run_dir):
    _, result, _ = trained
    run_dir, report = from_run_dir
    assert report["source"] == str(run_dir / "best") and report["arch_id"] == result["arch_id"]


def test_val_split_is_the_default_parity_set(from_run_dir):
    _, report = from_run_dir
    assert report["parity"]["data"] == "50 synthetic val images" and report["parity"]["images"] == 50


def test_unavailable_data_falls_back_to_noise_for_parity_but_not_for_int8(trained, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(trained[0], model_dir)
    result = json.loads((model_dir / "result.json").read_text())
    (model_dir / "result.json").write_text(json.dumps({**result, "data": "folder"}))  # needs data_dir
    notes = []
    report = export_onnx(model_dir, tmp_path / "m.onnx", log=notes.append)
    assert "random images" in report["parity"]["data"] and any("not available" in n for n in notes)
    with pytest.raises(ExportError, match="calibration needs training images.*pass data_dir=DIR "
                                          "or calibration_images"):
        export_onnx(model_dir, tmp_path / "q.onnx", quantize="int8")
    assert not (tmp_path / "q.onnx").exists()


def test_image_size_comes_from_the_result_a_checkpoint_or_the_caller(trained, tmp_path):
    for name, keep_checkpoints in (("with", True), ("without", False)):
        model_dir = tmp_path / name
        ignore = None if keep_checkpoints else shutil.ignore_patterns("checkpoints")
        shutil.copytree(trained[0], model_dir, ignore=ignore)
        result = json.loads((model_dir / "result.json").read_text())
        result.pop("image_size", None)  # older result.json files do not record it
        (model_dir / "result.json").write_text(json.dumps(result))
    assert export_onnx(tmp_path / "with", tmp_path / "a.onnx", subset=20)["input"]["shape"][-1] == 16
    with pytest.raises(ExportError, match="image size.*: pass image_size$"):
        export_onnx(tmp_path / "without", tmp_path / "b.onnx")
    assert export_onnx(tmp_path / "without", tmp_path / "b.onnx", image_size=16, subset=20)["input"]["shape"][-1] == 16


def test_bad_sources_are_refused(trained, tmp_path):
    with pytest.raises(ExportError, match="no such directory"):
        export_onnx(tmp_path / "missing", tmp_path / "m.onnx")
    with pytest.raises(ExportError, match="neither a model directory"):
        export_onnx(tmp_path, tmp_path / "m.onnx")
    broken = tmp_path / "broken"
    shutil.copytree(trained[0], broken)
    (broken / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ExportError, match="cannot load the trained network"):
        export_onnx(broken, tmp_path / "m.onnx")
    with pytest.raises(ExportError, match="unknown quantization"):
        export_onnx(trained[0], tmp_path / "m.onnx", quantize="int4")
