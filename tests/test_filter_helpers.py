"""gaussian_blur and sobel against scipy.ndimage, scikit-image and OpenCV, on grey, colour and stacks."""

import cv2
import naive
import numpy as np
import pytest
import skimage.filters

import fastconv as fc

BACKENDS = [n for n, info in fc.backends().items() if info["available"]]
rng = np.random.default_rng(12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sigma", [0.7, 2.0, (1.0, 3.0)])
@pytest.mark.parametrize("boundary", ["reflect", "symm", "nearest", "wrap"])
def test_gaussian_blur_matches_ndimage(backend, sigma, boundary):
    image = rng.standard_normal((40, 45))
    got = fc.gaussian_blur(image, sigma, boundary=boundary, backend=backend)
    np.testing.assert_allclose(got, naive.gaussian_blur(image, sigma, boundary=boundary), rtol=0, atol=1e-12)


def test_gaussian_blur_explicit_size_matches_cv2():
    image = rng.standard_normal((30, 30)).astype(np.float32)
    got = fc.gaussian_blur(image, 1.5, size=7)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, cv2.GaussianBlur(image, (7, 7), 1.5), rtol=0, atol=1e-5)


def test_gaussian_blur_colour_and_stack():
    colour = rng.random((25, 35, 3)).astype(np.float32)
    got = fc.gaussian_blur(colour, 2.0, channel_axis=-1)
    want = naive.gaussian_blur(colour, 2.0, channel_axis=-1)
    assert got.shape == colour.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    stack = rng.random((2, 3, 20, 22))
    np.testing.assert_allclose(fc.gaussian_blur(stack, 1.0), naive.gaussian_blur(stack, 1.0), atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sobel_matches_skimage_scaled(backend):
    image = rng.random((33, 29))
    want = skimage.filters.sobel(image) * 4 * np.sqrt(2)
    np.testing.assert_allclose(fc.sobel(image, "symm", backend=backend), want, rtol=1e-12, atol=1e-12)


def test_sobel_matches_cv2_magnitude_on_uint8():
    image = (rng.random((40, 50)) * 255).astype(np.uint8)
    got = fc.sobel(image, dtype=np.float64)
    assert got.dtype == np.float64
    gx, gy = (cv2.Sobel(image.astype(np.float64), cv2.CV_64F, dx, dy, ksize=3) for dx, dy in ((1, 0), (0, 1)))
    np.testing.assert_allclose(got, np.hypot(gx, gy), rtol=1e-12)
    got = fc.sobel(image)  # uint8 gives float32
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.hypot(gx, gy), rtol=1e-5, atol=1e-5 * 8 * 255)


def test_sobel_colour_is_per_channel():
    colour = rng.random((20, 24, 3))
    got = fc.sobel(colour, channel_axis=-1)
    for c in range(3):
        np.testing.assert_allclose(got[..., c], fc.sobel(colour[..., c]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sigma", [0, -1, np.nan, (1.0, 0.0)])
def test_gaussian_blur_rejects_bad_sigma(sigma):
    with pytest.raises(ValueError, match=r"^gaussian_blur: sigma must be a positive number or a pair of them, got"):
        fc.gaussian_blur(np.ones((5, 5)), sigma)
