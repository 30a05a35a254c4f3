"""One test per bad input: ValueError or TypeError whose message names the
argument and shows the value received (matched in either order, not on the
exact wording)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import fastconv as fc
from fastconv import _samples


def ones(*shape: int) -> np.ndarray:
    return np.ones(shape)


def zero(name: str = "0") -> str:
    """The number ``name`` standing alone (not part of 10, 0.5, x0...)."""
    return rf"(?<![\w.\-]){name}(?![\w.])"


X4 = ones(1, 2, 6, 6)
W4 = ones(3, 2, 3, 3)

# (id, call, regex naming the argument, regexes showing the value)
CASES: list[tuple[str, Callable[[str], Any], str, list[str]]] = [
    # conv2d
    ("conv2d-2d-input", lambda b: fc.conv2d(ones(3, 4), W4, backend=b), "input", [r"\(3, 4\)"]),
    ("conv2d-5d-input", lambda b: fc.conv2d(ones(1, 1, 1, 3, 3), ones(1, 1, 2, 2), backend=b), "input", [r"\(1, 1, 1, 3, 3\)"]),
    ("conv2d-channel-mismatch", lambda b: fc.conv2d(ones(1, 5, 6, 6), ones(4, 3, 2, 2), backend=b), "channel", [zero("5"), zero("3")]),
    ("conv2d-groups-not-dividing-in", lambda b: fc.conv2d(ones(1, 5, 6, 6), ones(4, 2, 3, 3), groups=2, backend=b), "groups", [zero("2"), zero("5")]),
    ("conv2d-groups-not-dividing-out", lambda b: fc.conv2d(ones(1, 4, 6, 6), ones(3, 2, 3, 3), groups=2, backend=b), "groups", [zero("2"), zero("3")]),
    ("conv2d-groups-0", lambda b: fc.conv2d(X4, W4, groups=0, backend=b), "groups", [zero("0")]),
    ("conv2d-stride-0", lambda b: fc.conv2d(X4, W4, stride=0, backend=b), "stride", [zero("0")]),
    ("conv2d-stride-neg", lambda b: fc.conv2d(X4, W4, stride=-1, backend=b), "stride", [r"-1"]),
    ("conv2d-stride-float", lambda b: fc.conv2d(X4, W4, stride=1.5, backend=b), "stride", [r"1\.5"]),
    ("conv2d-stride-3-tuple", lambda b: fc.conv2d(X4, W4, stride=(1, 1, 1), backend=b), "stride", [r"\(1, 1, 1\)"]),
    ("conv2d-padding-neg", lambda b: fc.conv2d(X4, W4, padding=-1, backend=b), "padding", [r"-1"]),
    ("conv2d-padding-neg-tuple", lambda b: fc.conv2d(X4, W4, padding=(1, -2), backend=b), "padding", [r"-2"]),
    ("conv2d-dilation-0", lambda b: fc.conv2d(X4, W4, dilation=0, backend=b), "dilation", [zero("0")]),
    ("conv2d-kernel-too-large", lambda b: fc.conv2d(ones(1, 1, 3, 3), ones(1, 1, 5, 5), backend=b), "kernel|weight", [zero("5")]),
    ("conv2d-dilated-kernel-too-large", lambda b: fc.conv2d(ones(1, 1, 4, 4), ones(1, 1, 3, 3), dilation=2, padding=0, backend=b), "kernel|weight|dilation", [zero("(?:3|5)")]),
    ("conv2d-same-stride-2", lambda b: fc.conv2d(X4, W4, stride=2, padding="same", backend=b), "same", ["stride", zero("2")]),
    ("conv2d-padding-full", lambda b: fc.conv2d(X4, W4, padding="full", backend=b), "padding", ["full"]),
    ("conv2d-padding-mode-mirror", lambda b: fc.conv2d(X4, W4, padding=1, padding_mode="mirror", backend=b), "padding_mode", ["mirror"]),
    ("conv2d-bias-length", lambda b: fc.conv2d(X4, W4, np.ones(4), backend=b), "bias", [zero("4")]),
    ("conv2d-3d-weight", lambda b: fc.conv2d(X4, ones(2, 1, 3), backend=b), "weight", [r"\(2, 1, 3\)"]),
    ("conv2d-str-input", lambda b: fc.conv2d("abc", W4, backend=b), "input", ["abc"]),
    ("conv2d-object-input", lambda b: fc.conv2d(object(), W4, backend=b), "input", ["object"]),
    ("conv2d-none-input", lambda b: fc.conv2d(None, W4, backend=b), "input", ["None"]),
    ("conv2d-reflect-padding-too-large", lambda b: fc.conv2d(ones(1, 1, 3, 8), ones(1, 1, 1, 1), padding=3, padding_mode="reflect", backend=b), "padding", [zero("3")]),
    ("conv2d-circular-padding-too-large", lambda b: fc.conv2d(ones(1, 1, 3, 8), ones(1, 1, 1, 1), padding=4, padding_mode="circular", backend=b), "padding", [zero("4")]),
    ("conv2d-activation-bogus", lambda b: fc.conv2d(X4, W4, activation="tanh", backend=b), "activation", ["tanh"]),
    ("conv2d-activation-not-str", lambda b: fc.conv2d(X4, W4, activation=1, backend=b), "activation", [zero("1")]),
    ("conv2d-gelu-on-integers", lambda b: fc.conv2d(X4.astype(int), W4.astype(int), activation="gelu", backend=b), "activation", ["gelu", "int64"]),
    ("conv1d-silu-on-integers", lambda b: fc.conv1d(ones(1, 2, 6).astype(np.uint8), ones(3, 2, 2).astype(int), activation="silu", backend=b), "activation", ["silu", "int64"]),
    # conv1d
    ("conv1d-4d-input", lambda b: fc.conv1d(ones(1, 1, 3, 3), ones(1, 1, 2), backend=b), "input", [r"\(1, 1, 3, 3\)"]),
    ("conv1d-stride-pair", lambda b: fc.conv1d(ones(1, 1, 5), ones(1, 1, 2), stride=(1, 1), backend=b), "stride", [r"\(1, 1\)"]),
    # conv_transpose2d / conv_transpose1d
    ("conv_transpose2d-output-padding", lambda b: fc.conv_transpose2d(X4, ones(2, 3, 3, 3), output_padding=1, backend=b), "output_padding", [r"\(1, 1\)", "stride"]),
    ("conv_transpose2d-too-small", lambda b: fc.conv_transpose2d(ones(1, 1, 2, 2), ones(1, 1, 1, 1), padding=2, backend=b), "output size|padding", [r"-2"]),
    ("conv_transpose2d-channel-mismatch", lambda b: fc.conv_transpose2d(X4, ones(3, 2, 3, 3), backend=b), "channel", [zero("2"), zero("3")]),
    ("conv_transpose2d-groups", lambda b: fc.conv_transpose2d(ones(1, 3, 4, 4), ones(3, 1, 3, 3), groups=2, backend=b), "groups", [zero("2"), zero("3")]),
    ("conv_transpose2d-bias", lambda b: fc.conv_transpose2d(X4, ones(2, 3, 3, 3), np.ones(2), backend=b), "bias", [zero("3"), r"\(2,\)"]),
    ("conv_transpose2d-3d-weight", lambda b: fc.conv_transpose2d(X4, ones(2, 3, 3), backend=b), "weight", [r"\(2, 3, 3\)"]),
    ("conv_transpose2d-stride-0", lambda b: fc.conv_transpose2d(X4, ones(2, 3, 3, 3), stride=0, backend=b), "stride", [zero("0")]),
    ("conv_transpose1d-4d-input", lambda b: fc.conv_transpose1d(X4, ones(2, 1, 2), backend=b), "input", [r"\(1, 2, 6, 6\)"]),
    # interpolate / upsample
    ("interpolate-align-corners-nearest", lambda b: fc.interpolate(X4, scale_factor=2, align_corners=True, backend=b), "align_corners", ["True", "nearest"]),
    ("interpolate-mode-bicubic", lambda b: fc.interpolate(X4, scale_factor=2, mode="bicubic", backend=b), "mode", ["bicubic"]),
    ("interpolate-bilinear-3d", lambda b: fc.interpolate(ones(1, 2, 5), scale_factor=2, mode="bilinear", backend=b), "mode", ["bilinear", r"\(1, 2, 5\)"]),
    ("interpolate-linear-4d", lambda b: fc.interpolate(X4, scale_factor=2, mode="linear", backend=b), "mode", ["linear", r"\(1, 2, 6, 6\)"]),
    ("interpolate-both", lambda b: fc.interpolate(X4, size=3, scale_factor=2, backend=b), "size", ["scale_factor", zero("3")]),
    ("interpolate-neither", lambda b: fc.interpolate(X4, backend=b), "size", ["scale_factor", "None"]),
    ("interpolate-size-0", lambda b: fc.interpolate(X4, size=0, backend=b), "size", [zero("0")]),
    ("interpolate-size-3-tuple", lambda b: fc.interpolate(X4, size=(1, 2, 3), backend=b), "size", [r"\(1, 2, 3\)"]),
    ("interpolate-scale-negative", lambda b: fc.interpolate(X4, scale_factor=-2, backend=b), "scale_factor", [r"-2"]),
    ("interpolate-scale-too-small", lambda b: fc.interpolate(X4, scale_factor=0.1, backend=b), "scale_factor", [r"0\.1"]),
    ("interpolate-recompute-with-size", lambda b: fc.interpolate(X4, size=3, recompute_scale_factor=True, backend=b), "recompute_scale_factor", ["True"]),
    ("interpolate-2d-input", lambda b: fc.interpolate(ones(4, 4), size=3, backend=b), "input", [r"\(4, 4\)"]),
    ("upsample-mode-area", lambda b: fc.upsample(X4, size=3, mode="area", backend=b), "mode", ["area"]),
    # max_pool2d
    ("max_pool2d-kernel-0", lambda b: fc.max_pool2d(X4, 0, backend=b), "kernel_size", [zero("0")]),
    ("max_pool2d-stride-0", lambda b: fc.max_pool2d(X4, 2, stride=0, backend=b), "stride", [zero("0")]),
    ("max_pool2d-padding-over-half", lambda b: fc.max_pool2d(X4, 2, padding=2, backend=b), "padding", [zero("2")]),
    ("max_pool2d-2d-input", lambda b: fc.max_pool2d(ones(4, 4), 2, backend=b), "input", [r"\(4, 4\)"]),
    ("max_pool2d-dilation-0", lambda b: fc.max_pool2d(X4, 2, dilation=0, backend=b), "dilation", [zero("0")]),
    # avg_pool2d
    ("avg_pool2d-output-below-1", lambda b: fc.avg_pool2d(ones(1, 1, 2, 2), 3, backend=b), "output|kernel_size", [zero("(?:3|0)")]),
    ("avg_pool2d-divisor-0", lambda b: fc.avg_pool2d(X4, 2, divisor_override=0, backend=b), "divisor_override", [zero("0")]),
    ("avg_pool2d-kernel-float", lambda b: fc.avg_pool2d(X4, 2.5, backend=b), "kernel_size", [r"2\.5"]),
    # adaptive pools
    ("adaptive_avg_pool2d-negative-size", lambda b: fc.adaptive_avg_pool2d(X4, -1, backend=b), "output_size", [r"-1"]),
    ("adaptive_max_pool2d-3-tuple", lambda b: fc.adaptive_max_pool2d(X4, (1, 2, 3), backend=b), "output_size", [r"\(1, 2, 3\)"]),
    # convolve2d / correlate2d
    ("convolve2d-1d-input", lambda b: fc.convolve2d(ones(5), ones(2, 2), backend=b), "in1", [r"\(5,\)"]),
    ("convolve2d-mode-bogus", lambda b: fc.convolve2d(ones(3, 3), ones(2, 2), mode="bogus", backend=b), "mode", ["bogus"]),
    ("convolve2d-boundary-reflect", lambda b: fc.convolve2d(ones(3, 3), ones(2, 2), boundary="reflect", backend=b), "boundary", ["reflect"]),
    ("convolve2d-valid-no-cover", lambda b: fc.convolve2d(ones(3, 5), ones(5, 3), mode="valid", backend=b), "valid", [r"\(3, 5\)", r"\(5, 3\)"]),
    ("correlate2d-valid-no-cover", lambda b: fc.correlate2d(ones(5, 3), ones(3, 5), mode="valid", backend=b), "valid", [r"\(5, 3\)", r"\(3, 5\)"]),
    ("correlate2d-3d-in2", lambda b: fc.correlate2d(ones(3, 3), ones(2, 2, 2), backend=b), "in2", [r"\(2, 2, 2\)"]),
    # convolve
    ("convolve-mode-bogus", lambda b: fc.convolve(ones(3), ones(2), mode="bogus", backend=b), "mode", ["bogus"]),
    ("convolve-2d-input", lambda b: fc.convolve(ones(3, 3), ones(2), backend=b), r"\ba\b", [r"\(3, 3\)"]),
    # filter2d
    ("filter2d-3d-kernel", lambda b: fc.filter2d(ones(5, 5), ones(3, 3, 3), backend=b), "kernel", [r"\(3, 3, 3\)"]),
    ("filter2d-boundary-mirror2", lambda b: fc.filter2d(ones(5, 5), ones(3, 3), boundary="mirror2", backend=b), "boundary", ["mirror2"]),
    ("filter2d-1d-image", lambda b: fc.filter2d(ones(5), ones(3, 3), backend=b), "image", [r"\(5,\)"]),
    # gaussian_blur
    ("gaussian_blur-sigma-negative", lambda b: fc.gaussian_blur(ones(5, 5), -1.0, backend=b), "sigma", [r"-1\.0"]),
    ("gaussian_blur-size-0", lambda b: fc.gaussian_blur(ones(5, 5), 1.0, size=0, backend=b), "size", [zero("0")]),
    ("gaussian_blur-1d-image", lambda b: fc.gaussian_blur(ones(5), 1.0, backend=b), "image", [r"\(5,\)"]),
    # sobel
    ("sobel-1d-image", lambda b: fc.sobel(ones(5), backend=b), "image", [r"\(5,\)"]),
    ("sobel-boundary-bogus", lambda b: fc.sobel(ones(5, 5), boundary="bogus", backend=b), "boundary", ["bogus"]),
    # box_filter
    ("box_filter-size-0", lambda b: fc.box_filter(ones(5, 5), 0, backend=b), "size", [zero("0")]),
    ("box_filter-1d-image", lambda b: fc.box_filter(ones(5), 3, backend=b), "image", [r"\(5,\)"]),
    ("box_filter-dtype-complex", lambda b: fc.box_filter(ones(5, 5), 3, dtype="complex64", backend=b), "dtype", ["complex64"]),
]
# public names that are another operation of the table under a second name
ALIASES = {"upsample": "interpolate"}


def test_every_operation_of_the_table_has_error_cases() -> None:
    ops = {case_id.split("-")[0] for case_id, *_ in CASES}
    assert {ALIASES.get(op, op) for op in ops} == set(_samples.OPERATIONS)
    assert all(callable(getattr(fc, op)) for op in ops)


def message_pattern(arg: str, values: list[str]) -> str:
    """A regex that finds ``arg`` and every value, in any order."""
    return "(?s)" + "".join(f"(?=.*(?:{v}))" for v in [arg, *values])


@pytest.mark.parametrize("call, arg, values", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_names_argument_and_value(backend: str, call: Callable[[str], Any], arg: str, values: list[str]) -> None:
    with pytest.raises((ValueError, TypeError), match=message_pattern(arg, values)):
        call(backend)


def test_message_pattern_is_order_free() -> None:
    pattern = message_pattern("stride", [r"1\.5"])

    assert re.search(pattern, "conv2d: stride must be a positive int, got 1.5")
    assert re.search(pattern, "got 1.5 for\nstride")
    assert not re.search(pattern, "conv2d: padding must be a positive int, got 1.5")
    assert not re.search(message_pattern("groups", [zero("0")]), "groups must be positive, got 10")


OPS = sorted(_samples.OPERATIONS)


@pytest.mark.parametrize("bad", ["gpu2", "", "nonexistent"])
@pytest.mark.parametrize("op", OPS)
def test_unknown_backend_is_a_value_error(op: str, bad: Any) -> None:
    with pytest.raises(ValueError, match=message_pattern("backend", [re.escape(repr(bad))])):
        getattr(fc, op)(**_samples.sample_args(op), backend=bad)


@pytest.mark.parametrize("op", OPS)
def test_every_op_rejects_non_numeric_input(backend: str, op: str) -> None:
    for bad, shown in [("abc", "abc"), (None, "None"), (object(), "object")]:
        args = _samples.sample_args(op)
        args[next(iter(args))] = bad  # the first argument: the input array
        with pytest.raises((ValueError, TypeError), match=shown):
            getattr(fc, op)(**args, backend=backend)
