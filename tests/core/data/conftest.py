"""Shared fixtures of the data tests."""

import urllib.error

import pytest

from nas_core.data import _download, _idx


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No user cache, no system copy of Fashion-MNIST, no network."""
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_idx, "SYSTEM_DIRS", ())

    def no_network(url, dest, progress=None, max_bytes=None):
        raise urllib.error.URLError("offline in tests")

    monkeypatch.setattr(_download, "fetch_url", no_network)
