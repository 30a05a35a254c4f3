"""First use: the cv2 colour-image warning, the image filters' dtypes, the geometry helpers and complex signals.

Each test runs on the numpy backend and on cpu where it is available (small
arrays, so the cpu kernels compile once and run in milliseconds).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.ndimage as ndimage
import scipy.signal as signal

import fastconv as fc

BACKENDS = [b for b in ("numpy", "cpu") if fc.backends()[b]["available"]]


@pytest.fixture(params=BACKENDS)
def host_backend(request: pytest.FixtureRequest) -> str:
    return request.param


def _rgb(shape=(32, 48, 3), dtype=np.float32, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(dtype)


# --- a cv2 user's (H, W, 3) photo ----------------------------------------------------------------

FILTERS = {
    "filter2d": lambda img, **kw: fc.filter2d(img, "sobel_x", **kw),
    "gaussian_blur": lambda img, **kw: fc.gaussian_blur(img, 1.5, **kw),
    "sobel": lambda img, **kw: fc.sobel(img, **kw),
}


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("channels", [3, 4])
def test_channels_last_image_without_channel_axis_warns_naming_channel_axis(name: str, channels: int, host_backend: str) -> None:
    image = _rgb((32, 48, channels))
    with pytest.warns(fc.ChannelAxisWarning, match=r"channel_axis=-1") as record:
        out = FILTERS[name](image, backend=host_backend)
    assert issubclass(fc.ChannelAxisWarning, UserWarning)
    assert len(record) == 1, [str(r.message) for r in record]  # sobel's two passes warn once
    assert record[0].filename == __file__  # points at the caller, not into fastconv
    assert name in str(record[0].message) and f"(32, 48, {channels})" in str(record[0].message)
    # the documented behaviour is unchanged: 32 planes of 48 x C, each filtered on its own
    planes = np.stack([FILTERS[name](np.ascontiguousarray(plane), backend=host_backend) for plane in image])
    np.testing.assert_allclose(out, planes, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((32, 48, 3), {"channel_axis": -1}),  # told: no warning
        ((32, 48, 3), {"channel_axis": 2}),
        ((3, 64, 64), {}),  # a stack of three grey images: channels first
        ((8, 8, 3), {}),  # 3 is not much smaller than 8
        ((64, 64, 5), {}),  # not 3 or 4 channels
        ((64, 64), {}),
        ((2, 64, 64, 3), {}),  # 4-D: a stack, read as documented
    ],
)
def test_no_warning_when_the_layout_is_not_a_cv2_photo(name: str, shape: tuple, kwargs: dict, host_backend: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FILTERS[name](_rgb(shape), backend=host_backend, **kwargs)


def test_the_warning_can_be_silenced_by_category() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=fc.ChannelAxisWarning)
        fc.filter2d(_rgb(), "box", backend="numpy")


CV2_BORDERS = {"reflect": "BORDER_REFLECT_101", "symm": "BORDER_REFLECT", "nearest": "BORDER_REPLICATE", "wrap": "BORDER_WRAP"}
NDIMAGE_MODES = {"reflect": "mirror", "symm": "reflect", "nearest": "nearest", "wrap": "grid-wrap"}


@pytest.mark.parametrize("boundary", list(NDIMAGE_MODES))
@pytest.mark.parametrize("kernel", ["sobel_x", "laplacian_tutorial", "gaussian"])
def test_channel_axis_minus_one_filters_each_channel_as_cv2_and_ndimage(boundary: str, kernel: str, host_backend: str) -> None:
    image = _rgb((40, 52, 3))
    k = fc.kernels.named(kernel).astype(np.float32)
    out = fc.filter2d(image, kernel, boundary, channel_axis=-1, backend=host_backend)
    assert out.shape == image.shape and out.dtype == np.float32
    scale = float(np.abs(k).sum())
    for c in range(3):
        want = ndimage.correlate(image[:, :, c], k, mode=NDIMAGE_MODES[boundary])
        np.testing.assert_allclose(out[:, :, c], want, rtol=0, atol=1e-5 * scale)
    cv2 = pytest.importorskip("cv2")
    if boundary != "wrap":  # cv2.filter2D does not take BORDER_WRAP
        want = cv2.filter2D(image, -1, k, borderType=getattr(cv2, CV2_BORDERS[boundary]))  # all 3 channels at once
        np.testing.assert_allclose(out, want, rtol=0, atol=1e-5 * scale)


def test_gaussian_blur_and_sobel_per_channel(host_backend: str) -> None:
    image = _rgb((40, 52, 3), np.float64)
    blurred = fc.gaussian_blur(image, 1.5, channel_axis=-1, backend=host_backend)
    grad = fc.sobel(image, channel_axis=-1, backend=host_backend)
    for c in range(3):
        np.testing.assert_allclose(blurred[..., c], ndimage.gaussian_filter(image[..., c], 1.5, mode="mirror"), atol=1e-12)
        gx = ndimage.correlate(image[..., c], fc.kernels.sobel_x(), mode="mirror")
        gy = ndimage.correlate(image[..., c], fc.kernels.sobel_y(), mode="mirror")
        np.testing.assert_allclose(grad[..., c], np.hypot(gx, gy), atol=1e-12)


# --- dtypes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("image_dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("kernel_dtype", [np.float16, np.float32, np.float64, np.int64, np.uint8])
def test_image_filters_keep_a_floating_image_dtype(image_dtype, kernel_dtype, host_backend: str) -> None:
    image = _rgb((20, 24), image_dtype)
    kernel = (np.arange(9).reshape(3, 3) % 4).astype(kernel_dtype)
    out = fc.filter2d(image, kernel, backend=host_backend)
    assert out.dtype == image_dtype
    compute = np.float32 if image_dtype == np.float16 else image_dtype  # the kernel is cast to the image's dtype
    want = ndimage.correlate(image.astype(compute), kernel.astype(compute), mode="mirror")
    np.testing.assert_allclose(out.astype(np.float64), want, rtol=0, atol=(1e-2 if image_dtype == np.float16 else 1e-5) * 18)
    assert fc.gaussian_blur(image, 1.0, backend=host_backend).dtype == image_dtype
    assert fc.sobel(image, backend=host_backend).dtype == image_dtype


def test_the_readme_gaussian_line_stays_float32(host_backend: str) -> None:
    img = _rgb((64, 64))
    assert fc.filter2d(img, fc.kernels.gaussian(15, 2.5), backend=host_backend).dtype == np.float32


@pytest.mark.parametrize(
    "image_dtype, kernel_dtype, want",
    [
        (np.uint8, np.float32, np.float32),  # up to 16 bits: float32, whatever the kernel (cv2's CV_32F)
        (np.int16, np.float32, np.float32),
        (np.uint8, np.float64, np.float32),
        (np.uint8, np.uint8, np.float32),
        (np.bool_, np.bool_, np.float32),
        (np.int32, np.float32, np.float64),  # wider integers: float64
        (np.int64, np.int64, np.float64),
    ],
)
def test_integer_images_follow_the_documented_rule(image_dtype, kernel_dtype, want, host_backend: str) -> None:
    image = np.full((6, 7), 200, dtype=image_dtype) if image_dtype != np.bool_ else np.ones((6, 7), bool)
    kernel = np.ones((3, 3), dtype=kernel_dtype)
    out = fc.filter2d(image, kernel, backend=host_backend)
    assert out.dtype == want
    np.testing.assert_array_equal(out, np.full((6, 7), 9.0 * image.flat[0]))  # never wraps around
    assert fc.filter2d(image, "box", backend=host_backend).dtype == want  # named kernels too
    assert fc.gaussian_blur(image, 1.0, backend=host_backend).dtype == want
    assert fc.sobel(image, backend=host_backend).dtype == want
    assert fc.filter2d(image, kernel, backend=host_backend, dtype=np.uint8).dtype == np.uint8  # cv2's ddepth=-1


def test_torch_and_scipy_style_functions_keep_their_peers_rules(host_backend: str) -> None:
    x32 = np.ones((1, 1, 5, 5), np.float32)
    w64 = np.ones((1, 1, 3, 3), np.float64)
    assert fc.conv2d(x32, w64, backend=host_backend).dtype == np.float64  # result_type, as the conv2d docstring says
    assert fc.conv2d(x32, w64.astype(np.float32), backend=host_backend).dtype == np.float32
    assert fc.convolve2d(x32[0, 0], w64[0, 0], backend=host_backend).dtype == signal.convolve2d(x32[0, 0], w64[0, 0]).dtype
    assert fc.convolve(np.ones(4, np.float32), np.ones(2), backend=host_backend).dtype == np.convolve(np.ones(4, np.float32), np.ones(2)).dtype


# --- geometry helpers against torch ----------------------------------------------------------------


def _torch_or_error(op, *args, **kwargs):
    """The last output size of a torch op, or None where torch refuses the arguments."""
    try:
        return op(*args, **kwargs).shape[-1]
    except RuntimeError:
        return None


def test_geometry_helpers_match_torch_for_random_arguments() -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(17)
    checked = {"conv": 0, "pool": 0, "transpose": 0}
    for _ in range(150):
        size, k, s, p, d = int(rng.integers(1, 14)), int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(0, 4)), int(rng.integers(1, 4))
        x = torch.zeros(1, 1, size)

        want = _torch_or_error(F.conv1d, x, torch.zeros(1, 1, k), stride=s, padding=p, dilation=d)
        if want is None:
            with pytest.raises(ValueError, match="conv_output_size: the output would have size"):
                fc.conv_output_size(size, k, s, p, d)
        else:
            assert fc.conv_output_size(size, k, stride=s, padding=p, dilation=d) == want
            assert fc.conv_output_size((size, size), (k, k), s, (p, p), d) == (want, want)
            checked["conv"] += 1

        ceil = bool(rng.integers(0, 2))
        want = _torch_or_error(F.max_pool1d, x, k, s, p, d, ceil)
        if want is None:
            with pytest.raises(ValueError, match="pool_output_size"):
                fc.pool_output_size(size, k, s, p, d, ceil)
        else:
            assert fc.pool_output_size(size, k, stride=s, padding=p, dilation=d, ceil_mode=ceil) == want
            checked["pool"] += 1
        want = _torch_or_error(F.max_pool1d, x, k, None, p)
        if want is not None:
            assert fc.pool_output_size(size, k, padding=p) == want  # stride=None: kernel_size

        op = int(rng.integers(0, 3))
        want = _torch_or_error(F.conv_transpose1d, x, torch.zeros(1, 1, k), stride=s, padding=p, output_padding=op, dilation=d)
        if want is None:
            with pytest.raises(ValueError, match="conv_transpose_output_size"):
                fc.conv_transpose_output_size(size, k, s, p, op, d)
        else:
            assert fc.conv_transpose_output_size(size, k, stride=s, padding=p, output_padding=op, dilation=d) == want
            checked["transpose"] += 1
    assert min(checked.values()) > 30, checked


def test_geometry_helpers_agree_with_the_operations() -> None:
    x = np.zeros((1, 1, 13, 9))
    assert fc.conv2d(x, np.zeros((1, 1, 3, 2)), stride=(2, 1), padding=1, dilation=(1, 2)).shape[2:] == fc.conv_output_size(
        (13, 9), (3, 2), (2, 1), 1, (1, 2)
    )
    assert fc.max_pool2d(x, 3, 2, 1, ceil_mode=True).shape[2:] == fc.pool_output_size((13, 9), 3, 2, 1, ceil_mode=True)
    assert fc.conv_transpose2d(x, np.zeros((1, 1, 4, 3)), stride=2, padding=1, output_padding=(1, 0)).shape[2:] == (
        fc.conv_transpose_output_size((13, 9), (4, 3), 2, 1, (1, 0))
    )


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: fc.conv_output_size(0, 3), ValueError, r"conv_output_size: size must be a positive int.*got 0"),
        (lambda: fc.conv_output_size(8, 0), ValueError, r"kernel_size must be a positive int.*got 0"),
        (lambda: fc.conv_output_size(8, 3, stride=0), ValueError, r"stride must be a positive int.*got 0"),
        (lambda: fc.conv_output_size(8, 3, padding=-1), ValueError, r"padding must be a non-negative int.*got -1"),
        (lambda: fc.conv_output_size(8, 3, dilation=1.5), TypeError, r"dilation must be a positive int.*got 1.5"),
        (lambda: fc.conv_output_size("8", 3), TypeError, r"size must be a positive int.*got '8'"),
        (lambda: fc.conv_output_size((8, 8), (3, 3, 3)), ValueError, r"one length.*size=\(8, 8\), kernel_size=\(3, 3, 3\)"),
        (lambda: fc.conv_output_size(2, 5), ValueError, r"output would have size -2"),
        (lambda: fc.pool_output_size(8, 3, padding=2), ValueError, r"padding must be at most half of kernel_size.*padding=2"),
        (lambda: fc.pool_output_size(8, 2, ceil_mode=1), TypeError, r"ceil_mode must be True or False, got 1"),
        (lambda: fc.pool_output_size(8, 2, stride=True), TypeError, r"stride must be a positive int.*got True"),
        (lambda: fc.conv_transpose_output_size(4, 3, stride=2, output_padding=2), ValueError, r"output_padding must be smaller.*output_padding=2"),
        (lambda: fc.conv_transpose_output_size(1, 1, padding=1), ValueError, r"output would have size -1"),
    ],
)
def test_geometry_helpers_name_the_argument_and_value(call, exc, match) -> None:
    with pytest.raises(exc, match=match):
        call()


# --- the Laplacian names ------------------------------------------------------------------------------


def test_the_tutorials_laplacian_is_found_by_name() -> None:
    tutorial = np.array([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]])
    np.testing.assert_array_equal(fc.kernels.laplacian_tutorial(), tutorial)
    np.testing.assert_array_equal(fc.kernels.named("laplacian_tutorial"), tutorial)
    np.testing.assert_array_equal(fc.kernels.named("outline"), tutorial)
    np.testing.assert_array_equal(-fc.kernels.laplacian(8), tutorial)
    np.testing.assert_array_equal(fc.kernels.named("laplacian"), fc.kernels.laplacian(4))
    image = np.random.default_rng(1).random((9, 11))
    np.testing.assert_allclose(fc.filter2d(image, "laplacian", "symm", backend="numpy"), ndimage.laplace(image, mode="reflect"), atol=1e-12)


# --- complex signals --------------------------------------------------------------------------------


def _complex(rng, shape, dtype=np.complex128):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize("func", ["convolve2d", "correlate2d"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
def test_complex_2d_signals_match_scipy(func: str, mode: str, boundary: str, host_backend: str) -> None:
    rng = np.random.default_rng(3)
    for s1, s2 in [((6, 7), (3, 2)), ((3, 4), (5, 6)), ((4, 4), (4, 4))]:
        for a, b in [(_complex(rng, s1), _complex(rng, s2)), (rng.standard_normal(s1), _complex(rng, s2)),
                     (_complex(rng, s1, np.complex64), rng.integers(-3, 4, s2)), (_complex(rng, s1, np.complex64), _complex(rng, s2, np.complex64))]:
            kwargs = {"mode": mode, "boundary": boundary}
            if boundary == "fill":
                kwargs["fillvalue"] = 0.5 - 2j
            want = getattr(signal, func)(a, b, **kwargs)
            got = getattr(fc, func)(a, b, backend=host_backend, **kwargs)
            assert got.dtype == want.dtype and got.shape == want.shape
            tol = 1e-4 if want.dtype == np.complex64 else 1e-12
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


def test_correlate2d_conjugates_in2_as_scipy() -> None:
    assert fc.correlate2d([[1]], [[2j]], backend="numpy").tolist() == [[-2j]]
    assert fc.correlate2d([[2j]], [[3j]], backend="numpy").tolist() == [[6 + 0j]]
    assert fc.convolve2d([[2j]], [[3j]], backend="numpy").tolist() == [[-6 + 0j]]


@pytest.mark.parametrize("mode", ["full", "same", "valid", 0, 1, 2])
def test_complex_convolve_matches_numpy(mode, host_backend: str) -> None:
    rng = np.random.default_rng(5)
    for a, v in [(_complex(rng, 9), _complex(rng, 4)), (rng.standard_normal(3), _complex(rng, 8, np.complex64)), ([1, 2j], [1j, 1])]:
        want = np.convolve(a, v, mode)
        got = fc.convolve(a, v, mode, backend=host_backend)
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize(
    "mode, exc", [(None, TypeError), (1.0, TypeError), (True, TypeError), ("f", ValueError), ("FULL", ValueError), (-1, ValueError), (3, ValueError)]
)
def test_convolve_mode_errors_are_numpys(mode, exc) -> None:
    with pytest.raises(exc):
        np.convolve([1, 2], [1], mode=mode)
    with pytest.raises(exc, match="convolve: mode must be"):
        fc.convolve([1, 2], [1], mode=mode)


def test_complex_fillvalue_with_real_inputs_is_scipys_value_error() -> None:
    with pytest.raises(ValueError, match="could not cast `fillvalue` directly to the output type"):
        fc.convolve2d([[1]], [[1, 2]], fillvalue=1j)
    with pytest.raises(ValueError, match="could not cast `fillvalue`"):  # scipy refuses even a zero imaginary part
        fc.convolve2d([[1]], [[1, 2]], fillvalue=2 + 0j)
    assert fc.convolve2d([[1j]], [[1, 2]], fillvalue=2 + 0j, mode="same", backend="numpy").tolist() == signal.convolve2d([[1j]], [[1, 2]], fillvalue=2 + 0j, mode="same").tolist()
    with pytest.raises(TypeError, match="filter2d: image must hold real numbers"):
        fc.filter2d(np.ones((3, 3), complex), np.ones((3, 3)))


# --- fc.hardware() before any kernel ---------------------------------------------------------------


@pytest.mark.parametrize("requested", [None, "workqueue", "safe"])
def test_hardware_reports_the_threading_layer_before_any_kernel_runs(requested, tmp_path) -> None:
    """In a fresh process: the layer hardware() names before a kernel is the one the first kernel starts."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    if not fc.backends()["cpu"]["available"]:
        pytest.skip("numba is not usable here")
    code = (
        "import json, numpy as np, numba, fastconv as fc\n"
        "before = fc.hardware()['cpu']['threading_layer']\n"
        "fc.max_pool2d(np.ones((1, 1, 4, 4)), 2, backend='cpu')\n"
        "after = fc.hardware()['cpu']['threading_layer']\n"
        "print(json.dumps([before, after, numba.threading_layer()]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    if requested:
        env["NUMBA_THREADING_LAYER"] = requested
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(fc.__file__).resolve().parent.parent), env.get("PYTHONPATH")) if p)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=True)
    before, after, started = json.loads(out.stdout.splitlines()[-1])
    assert before["started"] is False and before["active"] is None
    assert before["layer"] == started == after["layer"] == after["active"], (before, after, started)
    assert after["started"] is True and before["thread_safe"] == after["thread_safe"]


# --- the demo ---------------------------------------------------------------------------------------


def test_demo_help_panels_and_timing_size(tmp_path, capsys) -> None:
    pytest.importorskip("skimage")
    pytest.importorskip("matplotlib")
    from fastconv.__main__ import main
    from fastconv.demo import gallery, run

    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = capsys.readouterr().out
    assert "skimage.data.chelsea()" in text and "--sizes" in text and "--time-size" in text
    titles = [title for title, _, _ in gallery((3, 9))]
    assert {"box 3x3", "box 9x9", "gaussian 9x9 s=1.5", "sobel_x 3x3", "laplacian_tutorial 3x3"} <= set(titles)
    assert run(str(tmp_path / "g.png"), repeat=1, sizes=(3,), time_size=0) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("note: on a 300x451 image") and "OpenCV" in line for line in lines)


# --- compiling: the notice, and `python -m fastconv warmup` ------------------------------------------


def _fresh(code_or_args: list[str], cache: str, **env: str):
    """Run python with ``code_or_args`` in a fresh process on the JIT cache folder ``cache``."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "NUMBA_CACHE_DIR": cache, **env}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(fc.__file__).resolve().parent.parent), env.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, *code_or_args], env=env, capture_output=True, text=True, timeout=600, check=True)


NOTICE = "fastconv: compiling cpu kernels for adaptive_avg_pool2d float32 (once per machine"


def test_a_call_that_compiles_says_so_once_and_a_cached_one_says_nothing(tmp_path) -> None:
    if not fc.backends()["cpu"]["available"]:
        pytest.skip("numba is not usable here")
    call = "import numpy as np, fastconv as fc\nfor _ in range(2): fc.adaptive_avg_pool2d(np.ones((1, 2, 8, 8), np.float32), 3, backend='cpu')\n"
    cold = _fresh(["-c", call], str(tmp_path / "cache"))
    assert cold.stderr.count(NOTICE) == 1 and "python -m fastconv warmup" in cold.stderr, cold.stderr
    warm = _fresh(["-c", call], str(tmp_path / "cache"))
    assert "compiling" not in warm.stderr, warm.stderr
    silenced = _fresh(["-c", "import logging; logging.getLogger('fastconv').setLevel(logging.ERROR)\n" + call], str(tmp_path / "other"))
    assert "compiling" not in silenced.stderr, silenced.stderr


def test_the_notice_names_the_public_operation_and_dtype() -> None:
    from fastconv._jitcache import _CompileNotice

    class Event:
        def __init__(self, func, args):
            self.data = {"dispatcher": type("D", (), {"py_func": func})(), "args": args}

    from numba import types

    def kernel():
        pass

    kernel.__module__ = "fastconv._backends.cpu.pool"
    notice, args = _CompileNotice(), (types.int64, types.Array(types.float64, 4, "C"))
    notice.on_start(Event(kernel, args))  # called from here, not through a public function: named by the kernel
    notice.on_start(Event(kernel, args))  # nested: a callee of the kernel
    notice.on_end(None), notice.on_end(None)
    assert notice.announced == {("kernel", "float64", "cpu")}


def test_warmup_compiles_once_and_says_where_the_cache_is(tmp_path) -> None:
    if not fc.backends()["cpu"]["available"]:
        pytest.skip("numba is not usable here")
    cache = str(tmp_path / "cache")
    args = ["-m", "fastconv", "warmup", "--ops", "adaptive_avg_pool2d", "--dtypes", "float32"]
    first = _fresh(args, cache)
    lines = first.stdout.splitlines()
    import importlib.util

    if importlib.util.find_spec("rich") is None:  # plain text lines; else rich's bar
        assert lines[0].startswith("[1/1] adaptive_avg_pool2d float32"), first.stdout
    assert lines[-1].endswith(f"cache: {cache}") and "compiled 0 " not in lines[-1], first.stdout
    assert "compiling" not in first.stderr  # the progress says it
    again = _fresh(args, cache)
    assert "compiled 0 kernel variants" in again.stdout, again.stdout
