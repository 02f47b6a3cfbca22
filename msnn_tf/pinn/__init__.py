"""Physics-informed multi-stage networks (paper, section 3): problem pieces.

Domains with collocation samplers, conditions, the :class:`Problem` (a residual written with
derivatives from :func:`msnn_tf.partial_derivatives`, with unknown parameters, constraints on
derivatives of the residual and symmetry for combined forward-inverse problems, section 4), the losses of eqs. (3.1) and (3.38), the
solution magnitude of Algorithm 2 and the equation weight of Algorithm 3.
The :class:`MultiStagePINN` trainer (Algorithm 4) builds on these.
"""

from msnn_tf.pinn import burgers
from msnn_tf.pinn.constraints import ResidualDerivative
from msnn_tf.pinn.domains import SAMPLERS, Box, Interval, Rectangle, SpaceTimeBox
from msnn_tf.pinn.losses import data_loss, equation_loss, gradient_loss, pinn_loss
from msnn_tf.pinn.magnitude import MagnitudeEstimate, solution_magnitude
from msnn_tf.pinn.conditions import (ConditionRows, DirichletBoundary, InitialCondition, NeumannBoundary, OperatorCondition,
                                     PeriodicBoundary, PointValues, RobinBoundary)
from msnn_tf.pinn.problem import Problem
from msnn_tf.pinn.trainer import MultiStagePINN, PINNHistory, PINNStageReport
from msnn_tf.pinn.weights import EquationWeightSearch, convergence_ratio, pretrain_equation_weight

__all__ = [
    "Box",
    "ConditionRows",
    "DirichletBoundary",
    "EquationWeightSearch",
    "InitialCondition",
    "Interval",
    "MagnitudeEstimate",
    "MultiStagePINN",
    "NeumannBoundary",
    "OperatorCondition",
    "PINNHistory",
    "PINNStageReport",
    "PeriodicBoundary",
    "PointValues",
    "Problem",
    "ResidualDerivative",
    "Rectangle",
    "RobinBoundary",
    "SAMPLERS",
    "SpaceTimeBox",
    "convergence_ratio",
    "data_loss",
    "equation_loss",
    "gradient_loss",
    "pinn_loss",
    "pretrain_equation_weight",
    "solution_magnitude",
]
