"""Physics-informed multi-stage networks (paper, section 3): problem pieces.

So far: domains and their collocation samplers. The conditions, losses, automatic stage settings
and the ``MultiStagePINN`` trainer (Algorithm 4) build on these and on
:func:`msnn_tf.partial_derivatives`.
"""

from msnn_tf.pinn.domains import SAMPLERS, Box, Interval, Rectangle, SpaceTimeBox

__all__ = ["Box", "Interval", "Rectangle", "SAMPLERS", "SpaceTimeBox"]
