"""What export and serving refuse rather than get silently wrong: opsets torch.onnx cannot write
(and the opset recorded is the file's), an ONNX file whose output width is not its class count,
metadata of no known version, class names that are not strings."""

import json
from types import SimpleNamespace

import onnx
import pytest
import torch

from nas_core import NetworkConfig, build_network, get_space
from nas_export import ExportError, ModelInfo, OnnxClassifier, _graph, export_network


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A random tiny-space network, RGB 12x12, 4 classes, exported at the newest opset."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    arch = get_space("tiny").sample(torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    net = build_network(arch, NetworkConfig(width=4, cells_per_stack=1, in_channels=3, num_classes=4)).eval()
    info = ModelInfo(arch, net.config, ("a", "b", "c", "d"), 12, (0.5,) * 3, (0.25,) * 3, "synthetic")
    out = tmp_path_factory.mktemp("untrusted") / "model.onnx"
    x = torch.randint(0, 256, (8, 3, 12, 12), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    report = export_network(net, info, out, images=x, opset=_graph.MAX_OPSET)
    torch.set_num_threads(threads)
    return net, info, out, report


def test_the_opset_recorded_is_the_files(exported):
    _, _, out, report = exported
    assert report["opset"] == _graph.file_opset(onnx.load(out)) == _graph.MAX_OPSET
    assert json.loads(out.with_name("model.onnx.json").read_text())["opset"] == _graph.MAX_OPSET


@pytest.mark.parametrize("opset", [0, 7, 17, _graph.MAX_OPSET + 1, 99, True, "18", 18.0])
def test_opsets_torch_onnx_cannot_write_are_refused_before_exporting(exported, tmp_path, monkeypatch, opset):
    net, info, _, _ = exported
    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: pytest.fail("exported"))
    with pytest.raises(ExportError, match=f"cannot be exported here: .* writes opsets 18 to {_graph.MAX_OPSET}: "
                                          f"choose opset in 18..{_graph.MAX_OPSET}"):
        export_network(net, info, tmp_path / "m.onnx", opset=opset)
    assert not any(tmp_path.iterdir())


def test_an_exporter_that_falls_back_to_another_opset_is_caught(exported, tmp_path, monkeypatch):
    """torch.onnx logs a traceback and keeps opset 18 when its converter fails: never recorded
    as the opset asked for."""
    net, info, out, _ = exported
    proto = onnx.load(out)
    next(o for o in proto.opset_import if o.domain == "").version = 18  # what the fallback leaves
    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: SimpleNamespace(model_proto=proto))
    with pytest.raises(ExportError, match="could not convert the graph to opset 20 \\(it wrote 18\\)"):
        export_network(net, info, tmp_path / "m.onnx", opset=20)
    assert not any(tmp_path.iterdir())


def rewrite(path, out, **props):
    proto = onnx.load(str(path))
    for p in proto.metadata_props:
        if p.key in props:
            p.value = props[p.key]
    onnx.save(proto, str(out))
    return out


def test_output_width_other_than_the_class_count_is_refused_at_load(exported, tmp_path):
    _, info, out, _ = exported
    network = {**info.network.to_dict(), "num_classes": 3}
    bad = rewrite(out, tmp_path / "m.onnx", **{"nas.classes": '["a", "b", "c"]', "nas.network": json.dumps(network)})
    with pytest.raises(ExportError, match=r"output is tensor\(float\) \['batch', 4\], metadata says float "
                                          r"\(batch, 3\) for its 3 class names"):
        OnnxClassifier(bad)
    assert OnnxClassifier(out).predict(torch.zeros(2, 3, 12, 12, dtype=torch.uint8)).shape == (2, 4)


@pytest.mark.parametrize("key, value, message", [
    ("nas.format_version", "0", "nas.format_version 0 is not a format version"),
    ("nas.format_version", "-1", "nas.format_version -1 is not a format version"),
    ("nas.format_version", "true", "nas.format_version must be a int"),
    ("nas.classes", "[1, 2, 3, 4]", "class names must be strings"),
])
def test_bad_metadata_is_refused(exported, tmp_path, key, value, message):
    bad = rewrite(exported[2], tmp_path / "m.onnx", **{key: value})
    with pytest.raises(ExportError, match=message):
        OnnxClassifier(bad)
