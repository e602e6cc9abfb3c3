"""Whatever Hypothesis types for a numeric option (issue 14, part 1): any string that is not a
number in the option's range, and numbers just outside it, are refused with exit 2 and one line
(``conftest.refused``) by click, by the config or by our checks, whichever sees it first.

Commands run with ``--show-config`` where they have it (the config is checked, nothing trained).
Hypothesis runs derandomized (the same examples on every machine), without deadlines.
"""

from __future__ import annotations

import math
import sys

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SUPERNET = ["supernet", "train", "--out", "out", "--space", "tiny", "--show-config"]
RUN = ["run", "--profile", "smoke", "--device", "cpu", "--show-config"]
MAX_SEED = 2**63 - 1


def as_int(text: str) -> int | None:
    """How click reads an int option (Python's ``int``), None where it cannot."""
    try:
        return int(text)
    except ValueError:
        return None


def as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


TEXT = st.text(max_size=30)
BEYOND_SEEDS = st.integers(max_value=-1) | st.integers(min_value=MAX_SEED + 1)


@FUZZ
@given(value=TEXT | BEYOND_SEEDS.map(str))
def test_a_seed_that_is_no_64_bit_seed(refused, value):
    seed = as_int(value)
    assume(seed is None or not 0 <= seed <= MAX_SEED)
    refused(["space", "sample", "tiny", "--seed", value])


@FUZZ
@given(value=TEXT | (st.integers(max_value=1) | st.integers(min_value=1025)).map(str))
def test_a_width_that_cannot_be_built(refused, value):
    width = as_int(value)
    assume(width is None or not 2 <= width <= 1024)
    refused([*SUPERNET, "--width", value])


@FUZZ
@given(value=TEXT | st.floats().map(repr) | st.sampled_from(["nan", "-NaN", " inf", "Infinity", "1e309", "-0.0"]))
def test_epochs_that_never_end_or_never_start(refused, value):
    epochs = as_float(value)
    assume(epochs is None or not 0 < epochs <= 1e6)
    refused([*SUPERNET, "--epochs", value])


@FUZZ
@given(value=TEXT | st.floats(allow_nan=True).map(repr))
def test_a_dropout_rate_outside_0_to_0_99(refused, value):
    rate = as_float(value)
    assume(rate is None or math.isnan(rate) or not 0 <= rate <= 0.99)
    refused([*SUPERNET, "--dropout-rate", value])


@FUZZ
@given(value=TEXT | st.integers().map(str) | st.floats().map(repr))
def test_any_set_value_that_is_no_width(refused, value):
    """``--set supernet.width=VALUE`` (read as TOML): anything but an integer from 2 to 1024."""
    try:
        parsed = tomllib.loads(f"v = {value}").get("v")
    except tomllib.TOMLDecodeError:
        parsed = None
    assume(not (type(parsed) is int and 2 <= parsed <= 1024))
    refused([*RUN, "--set", f"supernet.width={value}"])
