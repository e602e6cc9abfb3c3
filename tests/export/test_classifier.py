"""OnnxClassifier: serving, what it refuses (bad files, foreign models, bad images), read_images."""

import onnx
import pytest
import torch
from PIL import Image

from nas_core import NetworkConfig, build_network, get_space
from nas_export import ExportError, ModelInfo, OnnxClassifier, Uint8Classifier, export_network, read_images


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A random tiny-space network exported with RGB 16x16 input and 4 classes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    arch = get_space("tiny").sample(torch.Generator().manual_seed(3))
    torch.manual_seed(0)
    net = build_network(arch, NetworkConfig(width=4, cells_per_stack=1, in_channels=3, num_classes=4))
    with torch.no_grad():
        for _ in range(4):
            net.train()(torch.randn(32, 3, 16, 16))
    info = ModelInfo(arch, net.config, ("cat", "dog", "owl", "eel"), 16, (0.4, 0.5, 0.6), (0.2, 0.25, 0.3), "demo")
    out = tmp_path_factory.mktemp("clf") / "model.onnx"
    export_network(net.eval(), info, out, images=batch(32))
    torch.set_num_threads(threads)
    return out, Uint8Classifier(net, info.mean, info.std).eval()


def batch(n: int, channels: int = 3, size: int = 16) -> torch.Tensor:
    return torch.randint(0, 256, (n, channels, size, size), generator=torch.Generator().manual_seed(n),
                         dtype=torch.uint8)


def test_predict_matches_pytorch_top1_in_chunks(model):
    path, reference = model
    clf = OnnxClassifier(path)
    x = batch(50)
    logits = clf.predict(x, batch_size=16)  # 4 onnxruntime calls
    with torch.no_grad():
        expected = reference(x)
    assert torch.equal(logits.argmax(1), expected.argmax(1))
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(clf.predict(x), logits)


def test_probabilities_top_k_and_evaluate(model):
    clf = OnnxClassifier(model[0])
    x = batch(10)
    probs = clf.predict_proba(x)
    torch.testing.assert_close(probs.sum(1), torch.ones(10))
    ranked = clf.top_k(x, k=9)  # more than the 4 classes: all of them
    assert len(ranked) == 10 and all(len(r) == 4 for r in ranked)
    assert ranked[0][0] == (clf.classes[int(probs[0].argmax())], pytest.approx(float(probs[0].max())))
    labels = probs.argmax(1)
    labels[:3] = (labels[:3] + 1) % 4
    seen = []
    found = clf.evaluate(x, labels, batch_size=4, on_batch=seen.append)
    assert found["accuracy"] == pytest.approx(0.7) and seen == [4, 4, 2] and found["images_per_s"] > 0


def test_describes_itself(model):
    clf = OnnxClassifier(model[0], providers="auto")
    assert clf.classes == ("cat", "dog", "owl", "eel") and clf.input_size == 16 and clf.channels == 3
    assert clf.arch.space == "tiny" and clf.info.quantization == "none" and clf.info.dataset == "demo"
    assert "CPUExecutionProvider" in clf.providers and "uint8x3x16x16" in repr(clf)


@pytest.mark.parametrize("images, message", [
    (batch(2).float() / 255, "uint8"),
    (batch(2, channels=1), "1 channel, the model takes 3"),
    (batch(2, size=20), "20x20 pixels"),
    (batch(1)[0], r"\(B, C, H, W\)"),
    (torch.zeros(0, 3, 16, 16, dtype=torch.uint8), "B >= 1"),
    ([[1, 2]], "torch.Tensor"),
])
def test_bad_images_are_refused_with_a_reason(model, images, message):
    with pytest.raises(ExportError, match=message):
        OnnxClassifier(model[0]).predict(images)


def _rewrite(path, out, edit):
    proto = onnx.load(str(path))
    edit(proto)
    onnx.save(proto, str(out))
    return out


def _set_prop(key, value):
    def edit(proto):
        for p in proto.metadata_props:
            if p.key == key:
                p.value = value
    return edit


def test_bad_files_are_refused_with_a_reason(model, tmp_path):
    path = model[0]
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(path.read_bytes()[:2000])
    text = tmp_path / "text.onnx"
    text.write_text("not a model\n")
    foreign = _rewrite(path, tmp_path / "foreign.onnx", lambda p: p.metadata_props.__delitem__(slice(None)))
    cases = [
        (tmp_path / "missing.onnx", "no such file"),
        (tmp_path, "not a file"),
        (truncated, "not a valid ONNX model"),
        (text, "not a valid ONNX model"),
        (foreign, "not exported by nas export .*: export it with nas_export.export_onnx"),
        (_rewrite(path, tmp_path / "newer.onnx", _set_prop("nas.format_version", "99")), "upgrade nas-export"),
        (_rewrite(path, tmp_path / "json.onnx", _set_prop("nas.classes", "[oops")), "nas.classes is not valid JSON"),
        (_rewrite(path, tmp_path / "id.onnx", _set_prop("nas.arch_id", "0" * 12)), "inconsistent"),
        (_rewrite(path, tmp_path / "size.onnx", _set_prop("nas.input_size", "17")), "metadata says"),
    ]
    for bad, message in cases:
        with pytest.raises(ExportError, match=message):
            OnnxClassifier(bad)


def test_unavailable_provider_is_refused(model):
    with pytest.raises(ExportError, match="not available"):
        OnnxClassifier(model[0], providers=["NoSuchExecutionProvider"])


def test_read_images_converts_resizes_and_crops(tmp_path):
    Image.new("RGB", (40, 20), (200, 10, 10)).save(tmp_path / "wide.png")
    Image.new("L", (8, 8), 77).save(tmp_path / "gray.png")
    rgb = read_images([tmp_path / "wide.png", tmp_path / "gray.png"], channels=3, size=16)
    assert rgb.shape == (2, 3, 16, 16) and rgb.dtype == torch.uint8
    assert rgb[0, :, 8, 8].tolist() == [200, 10, 10] and rgb[1, :, 8, 8].tolist() == [77, 77, 77]
    gray = read_images([tmp_path / "wide.png"], channels=1, size=12)
    assert gray.shape == (1, 1, 12, 12) and 60 < int(gray[0, 0, 6, 6]) < 70  # ITU-R 601 luma of red


def test_unreadable_images_are_refused(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(ExportError, match="cannot read image"):
        read_images([tmp_path / "broken.png"], 3, 16)
    with pytest.raises(ExportError, match="no such file"):
        read_images([tmp_path / "missing.jpg"], 3, 16)
    with pytest.raises(ExportError, match="no image files"):
        read_images([], 3, 16)
