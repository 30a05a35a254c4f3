"""The filter bank: known values, and the OpenCV and scikit-image equivalents."""

import cv2
import numpy as np
import pytest
import skimage.filters

import fastconv as fc
from fastconv import kernels

rng = np.random.default_rng(11)
IMAGE = rng.standard_normal((23, 31)).astype(np.float32)


@pytest.mark.parametrize("name", list(kernels.NAMES))
def test_every_named_kernel_is_a_fresh_float64_2d_array(name):
    k = kernels.named(name)
    assert k.dtype == np.float64 and k.ndim == 2
    k[...] = 7
    assert not np.all(kernels.named(name) == 7)


def test_known_values():
    assert kernels.sobel_y().tolist() == [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
    assert kernels.scharr_x().tolist() == [[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]]
    assert kernels.prewitt_y().tolist() == [[-1, -1, -1], [0, 0, 0], [1, 1, 1]]
    assert kernels.laplacian(8).tolist() == [[1, 1, 1], [1, -8, 1], [1, 1, 1]]
    assert kernels.sharpen().tolist() == [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]
    assert kernels.emboss().tolist() == [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]
    assert kernels.vertical_edge().tolist() == [[1, 0, -1]] * 3
    assert kernels.horizontal_edge().tolist() == [[1, 1, 1], [0, 0, 0], [-1, -1, -1]]
    np.testing.assert_array_equal(kernels.box((2, 3)), np.full((2, 3), 1 / 6))
    g = kernels.gaussian((5, 7), (1.0, 2.0))
    assert g.shape == (5, 7) and abs(g.sum() - 1) < 1e-15
    np.testing.assert_allclose(g, g[::-1, ::-1], rtol=1e-15)


@pytest.mark.parametrize("size, sigma", [(3, 0.8), (5, 1.0), (9, 1.7), (15, None), (31, 5.5), (21, None)])
def test_gaussian_1d_matches_cv2(size, sigma):
    want = cv2.getGaussianKernel(size, -1 if sigma is None else sigma, ktype=cv2.CV_64F)[:, 0]
    np.testing.assert_allclose(kernels.gaussian_1d(size, sigma), want, rtol=1e-12)


@pytest.mark.parametrize(
    "name, cv2_call",
    [
        ("sobel_x", lambda img: cv2.Sobel(img, cv2.CV_64F, 1, 0, ksize=3)),
        ("sobel_y", lambda img: cv2.Sobel(img, cv2.CV_64F, 0, 1, ksize=3)),
        ("scharr_x", lambda img: cv2.Scharr(img, cv2.CV_64F, 1, 0)),
        ("scharr_y", lambda img: cv2.Scharr(img, cv2.CV_64F, 0, 1)),
        ("laplacian4", lambda img: cv2.Laplacian(img, cv2.CV_64F, ksize=1)),
        ("laplacian8", lambda img: cv2.filter2D(img, cv2.CV_64F, np.array([[1.0, 1, 1], [1, -8, 1], [1, 1, 1]]))),
        ("gaussian", lambda img: cv2.GaussianBlur(img, (5, 5), 1.1)),
        ("box", lambda img: cv2.blur(img, (3, 3))),
    ],
)
def test_filters_match_opencv(name, cv2_call):
    image = IMAGE.astype(np.float64)
    np.testing.assert_allclose(fc.filter2d(image, name), cv2_call(image), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "name, skimage_filter, scale",
    [
        ("sobel_x", skimage.filters.sobel_v, 4),
        ("sobel_y", skimage.filters.sobel_h, 4),
        ("scharr_x", skimage.filters.scharr_v, 16),
        ("prewitt_y", skimage.filters.prewitt_h, 3),
    ],
)
def test_derivatives_match_skimage_up_to_its_normalization(name, skimage_filter, scale):
    # skimage normalizes the smoothing weights to sum 1 and uses ndimage "reflect", our "symm".
    image = IMAGE.astype(np.float64)
    np.testing.assert_allclose(fc.filter2d(image, name, "symm") / scale, skimage_filter(image), rtol=1e-12, atol=1e-12)


def test_unknown_kernel_name_lists_the_names():
    with pytest.raises(ValueError) as info:
        fc.filter2d(IMAGE, "sobel")
    message = str(info.value)
    assert message.startswith("filter2d: kernel name must be one of 'box', 'gaussian', 'sobel_x'")
    assert "'horizontal'; got 'sobel'" in message


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: kernels.box(0), "box: size must be a positive int or a tuple of 2 of them, got 0"),
        (lambda: kernels.gaussian(5, 0), "gaussian: sigma must be a positive number or a pair of them, got 0"),
        (lambda: kernels.gaussian(5, (1, 2, 3)), "gaussian: sigma must be a positive number or a pair of them, got (1, 2, 3)"),
        (lambda: kernels.gaussian(5, "wide"), "gaussian: sigma must be a positive number or a pair of them, got 'wide'"),
        (lambda: kernels.laplacian(6), "laplacian: neighbours must be 4 or 8, got 6"),
    ],
)
def test_bad_builder_arguments(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message
