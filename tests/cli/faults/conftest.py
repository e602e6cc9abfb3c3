"""Shared by the fault-injection tests: a folder per test module for the runs it keeps."""

import pytest


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("faults")
