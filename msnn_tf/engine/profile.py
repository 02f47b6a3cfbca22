"""Where the time of a fit goes: a callback that splits each stage's wall time by activity.

Per stage: ``planning`` (the residue or residual analysis, the stage's network and loss, from the end
of the previous stage to ``on_stage_begin``), ``compile`` (estimated: the first block of each
optimizer minus its steps at the optimizer's steady rate, measured on its later blocks), ``adam`` and
``lbfgs`` (their blocks without that compile estimate), ``least_squares`` (the solves), and ``other``
(building the optimizers' inputs, measuring the model after the stage, the report, Python between
blocks). The parts add up to the stage's wall time.

Example::

    profile = msnn.TimeProfile()
    regressor.fit(x, y, callbacks=[profile])
    print(profile.table())
"""

from __future__ import annotations

import time
from typing import Any

from msnn_tf.engine.callbacks import StageCallback

__all__ = ["TimeProfile"]

PARTS = ("planning", "compile", "adam", "lbfgs", "least_squares", "other")


def _optimizer_split(blocks: list[dict]) -> tuple[float, float]:
    """``(compile estimate, time without it)`` of one optimizer run from its block logs (``iteration``
    and ``elapsed`` since the optimizer started). With one block the compile cannot be told apart and
    is counted as 0 (the block's time goes to the optimizer)."""
    total = blocks[-1]["elapsed"]
    if len(blocks) < 2 or blocks[-1]["iteration"] <= blocks[0]["iteration"]:
        return 0.0, total
    rate = (blocks[-1]["elapsed"] - blocks[0]["elapsed"]) / (blocks[-1]["iteration"] - blocks[0]["iteration"])
    compile_time = min(total, max(0.0, blocks[0]["elapsed"] - rate * blocks[0]["iteration"]))
    return compile_time, total - compile_time


class TimeProfile(StageCallback):
    """Records, per stage, the seconds spent in each part of :data:`PARTS` (see the module docstring).

    Attributes:
        stages: One dictionary per stage: ``stage``, ``solver``, ``wall_time`` and the seconds of each
            part; ``shares()`` gives them as fractions of the wall time.
    """

    def __init__(self):
        super().__init__()
        self.stages: list[dict[str, Any]] = []
        self._mark = self._begin = None
        self._blocks: list[tuple[float, dict]] = []
        self._planning = 0.0
        self._solver = ""

    def on_fit_begin(self):
        self._mark = time.perf_counter()

    def on_stage_begin(self, stage, plan):
        now = time.perf_counter()
        self._planning = now - (self._mark if self._mark is not None else now)
        self._begin, self._blocks, self._solver = now, [], plan.solver

    def on_block_end(self, stage, logs):
        self._blocks.append((time.perf_counter(), dict(logs)))

    def on_stage_end(self, stage, report):
        now = time.perf_counter()
        parts = dict.fromkeys(PARTS, 0.0)
        parts["planning"] = self._planning
        for solver in ("adam", "lbfgs"):
            blocks = [logs for _, logs in self._blocks if logs.get("solver") == solver and "elapsed" in logs]
            if blocks:
                compile_time, rest = _optimizer_split(blocks)
                parts["compile"] += compile_time
                parts[solver] += rest
        previous = self._begin
        for moment, logs in self._blocks:
            if logs.get("solver") == "least_squares":
                parts["least_squares"] += moment - previous
            previous = moment
        stage_time = now - self._begin
        parts["other"] = max(0.0, stage_time - sum(parts[p] for p in PARTS if p != "planning"))
        self.stages.append(dict(stage=int(stage), solver=self._solver, wall_time=self._planning + stage_time, **parts))
        self._mark = now

    def shares(self) -> list[dict[str, float]]:
        """Each stage's parts as fractions of its wall time (they add up to 1 up to rounding)."""
        return [{p: s[p] / s["wall_time"] if s["wall_time"] > 0 else 0.0 for p in PARTS} for s in self.stages]

    def totals(self) -> dict[str, float]:
        """Seconds per part over every stage, and ``wall_time``."""
        return {p: sum(s[p] for s in self.stages) for p in PARTS + ("wall_time",)}

    def table(self) -> str:
        """A text table: per stage (and in total) the seconds of each part and its share."""
        header = f"{'stage':>5} {'solver':>13} {'wall s':>7} " + " ".join(f"{p:>14}" for p in PARTS)
        rows = [header, "-" * len(header)]
        for record in self.stages + [dict(stage="all", solver="", **self.totals())]:
            wall = record["wall_time"]
            cells = " ".join(f"{record[p]:6.1f} ({100 * record[p] / wall if wall else 0:3.0f}%)" for p in PARTS)
            rows.append(f"{record['stage']:>5} {record['solver']:>13} {wall:7.1f} {cells}")
        return "\n".join(rows)
