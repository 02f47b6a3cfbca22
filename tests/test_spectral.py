import math
import warnings

import numpy as np
import pytest

import msnn_tf as msnn
from msnn_tf.spectral import check_data_density


@pytest.mark.parametrize("frequency", [2.0, 3.7, 5.5, 12.3, 40.0])
@pytest.mark.parametrize("num_points", [300, 5000])
def test_dominant_frequency_of_sines_within_one_percent(frequency, num_points):
    x = np.linspace(-1, 1, num_points)
    f = msnn.dominant_frequency(x, np.sin(2 * np.pi * frequency * x + 0.3))
    assert f == pytest.approx(frequency, rel=0.01)


def test_dominant_frequency_nonuniform_samples_are_resampled(rng):
    x = np.sort(rng.uniform(-1, 1, 2000))
    f = msnn.dominant_frequency(x, np.cos(2 * np.pi * 7.0 * x))
    assert f == pytest.approx(7.0, rel=0.01)


def test_dominant_frequencies_per_axis_in_2d(rng):
    x = rng.uniform(-1, 1, (6000, 2))
    values = np.sin(2 * np.pi * 3.0 * x[:, 0]) * np.cos(2 * np.pi * 5.0 * x[:, 1])
    np.testing.assert_allclose(msnn.dominant_frequencies(x, values), [3.0, 5.0], rtol=0.01)


def test_dominant_frequency_of_paper_function_m30():
    # Fig. 2b of the paper reads f_d ~ 5.5 for eq. (2.6) with m = 30.
    x = np.linspace(-1, 1, 300)
    f = msnn.dominant_frequency(x, (1 - x**2 / 2) * np.cos(30 * (x + 0.5 * x**3)))
    assert 4.5 < f < 6.5


def test_rms():
    assert msnn.rms([3.0, -4.0]) == pytest.approx(math.sqrt(12.5), rel=1e-15)
    with pytest.raises(ValueError, match="empty"):
        msnn.rms([])


def test_kappa_for_frequency_follows_eq_2_9():
    kappa = msnn.kappa_for_frequency(10.0, fan_in=1, units=20, factor=1.5)
    assert kappa * math.sqrt(2.0 / 21.0) == pytest.approx(1.5 * math.pi * 10.0, rel=1e-14)
    # A (nearly) constant residue still gets kappa_hat >= the floor.
    assert msnn.kappa_for_frequency(0.0, units=20) * math.sqrt(2.0 / 21.0) == pytest.approx(1.0, rel=1e-14)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="frequency"):
            msnn.kappa_for_frequency(bad)
    with pytest.raises(ValueError, match="factor"):
        msnn.kappa_for_frequency(1.0, factor=0.0)


def test_data_density_warning_eq_2_10():
    assert msnn.min_points_for_frequency(10.0) == math.floor(60 * math.pi) + 1
    with pytest.warns(msnn.DataDensityWarning, match="6\\*pi\\*f_d"):
        assert not check_data_density(100, 10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_data_density(200, 10.0)


@pytest.mark.parametrize("x, values, word", [
    (np.zeros(10), np.zeros(9), "same length"), (np.zeros(3), np.zeros(3), "at least 4"),
    (np.array([0, 1, 2, np.nan]), np.zeros(4), "finite"), (np.zeros((2, 2, 2)), np.zeros(2), "shape"),
])
def test_dominant_frequency_rejects_bad_input(x, values, word):
    with pytest.raises(ValueError, match=word):
        msnn.dominant_frequency(x, values)


def test_sample_spectrum_frequencies_follow_the_amplitude_spectrum():
    x = np.linspace(-1, 1, 4000)
    values = np.sin(2 * np.pi * 5.0 * x) + 0.5 * np.sin(2 * np.pi * 17.0 * x)
    frequencies = msnn.sample_spectrum_frequencies(x, values, 200, seed=0)
    assert frequencies.shape == (200, 1)
    magnitude = np.abs(frequencies[:, 0])
    near_5 = np.abs(magnitude - 5.0) < 1.5
    near_17 = np.abs(magnitude - 17.0) < 1.5
    # Hann-window leakage puts a few draws off the peaks; the rest split as the amplitudes, 2 : 1.
    assert np.mean(near_5 | near_17) >= 0.9
    assert np.sum(near_5) / np.sum(near_17) == pytest.approx(2.0, rel=0.25)
    assert 0.3 < np.mean(frequencies[:, 0] > 0) < 0.7  # random signs
    np.testing.assert_array_equal(frequencies, msnn.sample_spectrum_frequencies(x, values, 200, seed=0))


def test_sample_spectrum_frequencies_in_2d(rng):
    axis = np.linspace(-1, 1, 71)
    grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    plane_wave = lambda x: np.sin(2 * np.pi * (3.0 * x[:, 0] + 4.0 * x[:, 1]))  # |f| = 5
    magnitude = np.linalg.norm(msnn.sample_spectrum_frequencies(grid, plane_wave(grid), 100, seed=1), axis=1)
    assert np.median(magnitude) == pytest.approx(5.0, rel=0.05)
    assert np.mean(np.abs(magnitude - 5.0) < 1.0) >= 0.9
    # Scattered points go through linear interpolation, whose error broadens the spectrum.
    scattered = rng.uniform(-1, 1, (5000, 2))
    magnitude = np.linalg.norm(msnn.sample_spectrum_frequencies(scattered, plane_wave(scattered), 100, seed=1), axis=1)
    assert np.median(magnitude) == pytest.approx(5.0, rel=0.35)
    with pytest.raises(ValueError, match="count"):
        msnn.sample_spectrum_frequencies(grid, plane_wave(grid), 0)
