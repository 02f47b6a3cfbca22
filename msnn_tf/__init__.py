"""msnn_tf: multi-stage neural networks of machine precision (Wang & Lai, J. Comput. Phys. 2024).

Public names::

    import msnn_tf as msnn
    reg = msnn.MultiStageRegressor()
    history = reg.fit(x, y, num_stages=4)
"""

from msnn_tf.derivatives import Partials, partial_derivatives
from msnn_tf.engine import StageCallback, TimeProfile
from msnn_tf import pinn  # noqa: F401  (msnn.pinn: the PINN problem pieces)
from msnn_tf.layers import InputScaling, ScaledFirstLayer
from msnn_tf.least_squares import LeastSquaresResult, solve_output_layer
from msnn_tf.networks import build_stage_network
from msnn_tf.pinn.trainer import MultiStagePINN
from msnn_tf.optimizers import AdamResults, LbfgsResults, adam_minimize, lbfgs_minimize
from msnn_tf.regression import MultiStageRegressor, mse_objective
from msnn_tf.reporting import StageReport, TrainingHistory
from msnn_tf.spectral import (
    amplitude_spectra,
    DataDensityWarning,
    dominant_frequencies,
    dominant_frequency,
    kappa_for_frequency,
    min_points_for_frequency,
    rms,
    sample_spectrum_frequencies,
)
from msnn_tf.staged_model import StagedModel
from msnn_tf.weighting import boundary_weights

__version__ = "0.1.0"

__all__ = [
    "AdamResults",
    "DataDensityWarning",
    "InputScaling",
    "LbfgsResults",
    "LeastSquaresResult",
    "MultiStagePINN",
    "MultiStageRegressor",
    "Partials",
    "ScaledFirstLayer",
    "StageCallback",
    "TimeProfile",
    "StageReport",
    "StagedModel",
    "TrainingHistory",
    "adam_minimize",
    "amplitude_spectra",
    "boundary_weights",
    "build_stage_network",
    "dominant_frequencies",
    "dominant_frequency",
    "kappa_for_frequency",
    "lbfgs_minimize",
    "min_points_for_frequency",
    "mse_objective",
    "partial_derivatives",
    "rms",
    "sample_spectrum_frequencies",
    "solve_output_layer",
]
