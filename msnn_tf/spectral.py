"""Magnitude and dominant frequency of a residue, and the scale factor kappa they imply.

Frequencies are in cycles per unit length of the coordinates given (for the networks of this
package: the inputs scaled to ``[-1, 1]``, where the paper measures ``f_d``, Fig. 2b).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from msnn_tf.layers import xavier_variance

__all__ = [
    "amplitude_spectra",
    "rms",
    "dominant_frequency",
    "dominant_frequencies",
    "kappa_for_frequency",
    "min_points_for_frequency",
    "DataDensityWarning",
    "check_data_density",
    "sample_spectrum_frequencies",
]


class DataDensityWarning(UserWarning):
    """Fewer data points than eq. (2.10) asks for (``N_d > 6 pi f_d``): the stage may overfit."""


def rms(values) -> float:
    """Root mean square ``sqrt(mean(values**2))`` (eq. 2.3)."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        raise ValueError("`values` must not be empty, got an array of size 0")
    return float(np.sqrt(np.mean(np.square(array))))


def _check_samples(x, values):
    x = np.asarray(x, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"`x` must have shape (N,) or (N, d), got shape {x.shape}")
    values = values.reshape(-1) if values.ndim == 2 and values.shape[1] == 1 else values
    if values.ndim != 1:
        raise ValueError(f"`values` must have shape (N,) or (N, 1), got shape {values.shape}")
    if x.shape[0] != values.shape[0]:
        raise ValueError(f"`x` and `values` must have the same length, got {x.shape[0]} and {values.shape[0]}")
    if x.shape[0] < 4:
        raise ValueError(f"a dominant frequency needs at least 4 samples, got {x.shape[0]}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(values))):
        raise ValueError("`x` and `values` must be finite, got NaN or inf")
    return x, values


def _grid_values(x: np.ndarray, values: np.ndarray, points_per_axis: int):
    """Values on a uniform grid over the bounding box of ``x`` (interpolated where needed)."""
    d = x.shape[1]
    lower, upper = x.min(axis=0), x.max(axis=0)
    axes = [np.linspace(lo, hi, points_per_axis) for lo, hi in zip(lower, upper)]
    if d == 1:
        order = np.argsort(x[:, 0], kind="stable")
        xs, vs = x[order, 0], values[order]
        unique, index = np.unique(xs, return_index=True)
        return axes, np.interp(axes[0], unique, vs[index])
    from scipy.interpolate import griddata

    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
    grid = griddata(x, values, mesh, method="linear")
    nearest = griddata(x, values, mesh, method="nearest")
    grid = np.where(np.isfinite(grid), grid, nearest)
    return axes, grid.reshape((points_per_axis,) * d)


def amplitude_spectra(x, values, pad_factor: int = 16, points_per_axis: int | None = None):
    """Amplitude spectrum of ``values(x)`` along each input axis (zero-padded, Hann-windowed FFT).

    Scattered or non-uniform samples are first interpolated onto a uniform grid over their bounding
    box (linear interpolation; ``points_per_axis`` points per axis, by default as many as the data
    supports). Along each axis the spectra of all grid lines (mean removed) are averaged.

    Args:
        x: Sample coordinates, shape ``(N,)`` or ``(N, d)``.
        values: Sample values, shape ``(N,)`` or ``(N, 1)``.
        pad_factor: Zero padding factor of the FFT (sets the frequency resolution).
        points_per_axis: Grid size per axis for the interpolation.

    Returns:
        A list of ``d`` pairs ``(frequencies, amplitudes)``, frequencies in cycles per unit of ``x``.

    Raises:
        ValueError: on mismatched shapes, fewer than 4 samples or non-finite input.
    """
    x, values = _check_samples(x, values)
    n, d = x.shape
    if points_per_axis is None:
        points_per_axis = max(8, int(round(n ** (1.0 / d))))
        points_per_axis = min(points_per_axis, 4096 if d == 1 else 512)
    axes, grid = _grid_values(x, values, int(points_per_axis))
    spectra = []
    for axis in range(d):
        spacing = axes[axis][1] - axes[axis][0]
        lines = np.moveaxis(grid, axis, -1).reshape(-1, grid.shape[axis])
        centred = lines - lines.mean(axis=1, keepdims=True)
        count = lines.shape[1]
        window = np.hanning(count)
        length = int(2 ** math.ceil(math.log2(max(count * pad_factor, 16))))
        amplitude = np.abs(np.fft.rfft(centred * window, n=length, axis=1)).mean(axis=0)
        spectra.append((np.fft.rfftfreq(length, d=spacing), amplitude))
    return spectra


def dominant_frequencies(x, values, pad_factor: int = 16, points_per_axis: int | None = None) -> np.ndarray:
    """Dominant frequency of ``values(x)`` along each input axis (zero-padded FFT).

    The largest non-zero peak of each axis' spectrum from :func:`amplitude_spectra` (same arguments),
    located to a fraction of a bin by parabolic interpolation.

    Returns:
        Array of ``d`` dominant frequencies in cycles per unit of ``x``.

    Raises:
        ValueError: on mismatched shapes, fewer than 4 samples or non-finite input.
    """
    spectra = amplitude_spectra(x, values, pad_factor=pad_factor, points_per_axis=points_per_axis)
    return np.asarray([_refined_peak(amplitude, freqs) for freqs, amplitude in spectra])


def _refined_peak(spectrum: np.ndarray, freqs: np.ndarray) -> float:
    spectrum = spectrum.copy()
    spectrum[0] = 0.0
    k = int(np.argmax(spectrum))
    if 0 < k < spectrum.size - 1:
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-300)
        denominator = a - 2 * b + c
        if denominator < 0:
            return float(freqs[k] + 0.5 * (a - c) / denominator * (freqs[1] - freqs[0]))
    return float(freqs[k])


def dominant_frequency(x, values, pad_factor: int = 16) -> float:
    """The largest of :func:`dominant_frequencies` over the input axes (a scalar ``f_d``)."""
    return float(np.max(dominant_frequencies(x, values, pad_factor=pad_factor)))


def kappa_for_frequency(
    frequency: float,
    fan_in: int = 1,
    units: int = 20,
    factor: float = 1.0,
    minimum_kappa_hat: float = 1.0,
) -> float:
    """Scale factor ``kappa`` for a residue of dominant frequency ``f_d`` (eq. 2.8-2.9).

    Returns ``kappa = kappa_hat / sqrt(Var)`` with ``kappa_hat = max(factor * pi * f_d,
    minimum_kappa_hat)`` and ``Var = 2 / (fan_in + units)`` the Xavier variance of the first layer.
    Eq. (2.9) asks for ``kappa_hat > pi f_d``, i.e. ``factor >= 1``.

    Args:
        frequency: Dominant frequency ``f_d`` (cycles per unit of the scaled input), non-negative.
        fan_in: Input dimension of the first layer.
        units: Width of the first layer.
        factor: Ratio ``kappa_hat / (pi f_d)``, positive.
        minimum_kappa_hat: Floor of ``kappa_hat`` for nearly constant residues, positive.

    Raises:
        ValueError: on a negative or non-finite frequency or non-positive factor.
    """
    if not (math.isfinite(frequency) and frequency >= 0):
        raise ValueError(f"`frequency` must be finite and non-negative, got {frequency!r}")
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"`factor` must be positive, got {factor!r}")
    if not (math.isfinite(minimum_kappa_hat) and minimum_kappa_hat > 0):
        raise ValueError(f"`minimum_kappa_hat` must be positive, got {minimum_kappa_hat!r}")
    kappa_hat = max(factor * math.pi * frequency, minimum_kappa_hat)
    return kappa_hat / math.sqrt(xavier_variance(fan_in, units))


def min_points_for_frequency(frequency: float, safety: float = 1.0) -> int:
    """Smallest ``N_d`` with ``N_d > 6 pi f_d`` (eq. 2.10), times ``safety``, per axis."""
    return int(math.floor(safety * 6.0 * math.pi * frequency)) + 1


def check_data_density(num_points: int, frequency: float, stacklevel: int = 2) -> bool:
    """Warns with :class:`DataDensityWarning` when ``num_points <= 6 pi f_d`` (eq. 2.10).

    Returns:
        ``True`` when the criterion holds.
    """
    needed = 6.0 * math.pi * frequency
    if num_points <= needed:
        warnings.warn(
            f"{num_points} data points per axis but eq. (2.10) asks for more than 6*pi*f_d = {needed:.0f} "
            f"(f_d = {frequency:.3g}); the stage may overfit",
            DataDensityWarning,
            stacklevel=stacklevel,
        )
        return False
    return True


def sample_spectrum_frequencies(x, values, count: int, seed: int | None = None, pad_factor: int = 8,
                                points_per_axis: int | None = None, max_frequency=None) -> np.ndarray:
    """Frequency vectors drawn from the amplitude spectrum of a residue (spectrum-informed init).

    The residue is put on a uniform grid (as in :func:`dominant_frequencies`), its mean removed, a
    Hann window applied per axis, and its zero-padded ``d``-dimensional amplitude spectrum computed.
    ``count`` frequency vectors are drawn by stratified sampling of that spectrum's cumulative
    distribution (one draw in each of ``count`` equal-probability strata), each with a random
    overall sign. Initialising the first layer of a stage with ``kappa W = 2 pi f`` puts its features
    where the residue's energy is, instead of at random scales (Ng, Wang & Lai, 2024,
    "Spectrum-informed multistage neural networks"); the paper's eq. (2.9) is the special case of
    matching the dominant frequency only.

    Args:
        x: Sample coordinates, shape ``(N,)`` or ``(N, d)`` (the scaled inputs of the networks).
        values: Residue values, shape ``(N,)`` or ``(N, 1)``.
        count: Number of vectors (the width of the first layer), positive.
        seed: Seed of the draw.
        pad_factor: Zero padding of the FFT per axis.
        points_per_axis: Grid size per axis for scattered data.
        max_frequency: Optional cap per axis (scalar or length ``d``): spectral content above it is
            not drawn. With ``N`` points per axis over a length-2 interval, eq. (2.10) makes
            ``N / (6 pi)`` the highest frequency the data can support without overfitting.

    Returns:
        Array of shape ``(count, d)`` in cycles per unit of ``x``.

    Raises:
        ValueError: on bad shapes, non-finite input or a non-positive ``count``.
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count <= 0:
        raise ValueError(f"`count` must be a positive integer, got {count!r}")
    x, values = _check_samples(x, values)
    n, d = x.shape
    if points_per_axis is None:
        points_per_axis = max(8, int(round(n ** (1.0 / d))))
        points_per_axis = min(points_per_axis, 4096 if d == 1 else (256 if d == 2 else 48))
    axes, grid = _grid_values(x, values, int(points_per_axis))
    grid = grid - grid.mean()
    for axis in range(d):
        shape = [1] * d
        shape[axis] = grid.shape[axis]
        grid = grid * np.hanning(grid.shape[axis]).reshape(shape)
    lengths = [int(2 ** math.ceil(math.log2(max(size * (pad_factor if d == 1 else 2), 16)))) for size in grid.shape]
    amplitude = np.abs(np.fft.rfftn(grid, s=lengths))
    spacings = [a[1] - a[0] for a in axes]
    freq_axes = [np.fft.fftfreq(length, d=h) for length, h in zip(lengths[:-1], spacings[:-1])]
    freq_axes.append(np.fft.rfftfreq(lengths[-1], d=spacings[-1]))
    amplitude.reshape(-1)[0] = 0.0
    if max_frequency is not None:
        caps = np.broadcast_to(np.asarray(max_frequency, dtype=np.float64), (d,))
        for k in range(d):
            shape = [1] * d
            shape[k] = amplitude.shape[k]
            amplitude = amplitude * (np.abs(freq_axes[k]) <= caps[k]).reshape(shape)
    probability = amplitude.reshape(-1)
    total = probability.sum()
    rng = np.random.default_rng(seed)
    if not total > 0:  # a constant residue: no spectral information, use the lowest frequencies
        return rng.normal(scale=1.0 / max(spacings) / n, size=(count, d))
    cumulative = np.cumsum(probability) / total
    strata = (np.arange(count) + rng.uniform(size=count)) / count
    flat_index = np.minimum(np.searchsorted(cumulative, strata), probability.size - 1)
    index = np.unravel_index(flat_index, amplitude.shape)
    frequencies = np.stack([freq_axes[k][index[k]] for k in range(d)], axis=1)
    signs = rng.choice([-1.0, 1.0], size=(count, 1))
    return rng.permutation(frequencies * signs)
