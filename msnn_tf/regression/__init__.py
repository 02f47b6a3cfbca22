"""Multi-stage regression (paper, Algorithm 1): the :class:`MultiStageRegressor` façade, its
objective for the stage engine and its data source."""

from msnn_tf.regression.objective import RegressionObjective, mse_objective
from msnn_tf.regression.regressor import MultiStageRegressor

__all__ = ["MultiStageRegressor", "RegressionObjective", "mse_objective"]
