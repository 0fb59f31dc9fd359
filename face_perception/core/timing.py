"""Per-stage wall and thread CPU time, for benchmarks (the pipeline takes an optional timer)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True)
class StageTime:
    """Seconds one stage took: wall clock and CPU time of the calling thread."""

    wall_s: float
    cpu_s: float


@dataclass
class StageTimer:
    """Collects the time of named stages of one frame; ``stage`` is a context manager.

    Thread CPU time (``time.thread_time``) is counted next to wall time: on a shared machine
    the wall clock includes time other processes took the core, the CPU time does not.
    """

    stages: dict[str, StageTime] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            spent = StageTime(time.perf_counter() - wall, time.thread_time() - cpu)
            previous = self.stages.get(name)
            if previous is not None:  # a stage entered twice in one frame adds up
                spent = StageTime(previous.wall_s + spent.wall_s, previous.cpu_s + spent.cpu_s)
            self.stages[name] = spent


@contextmanager
def maybe_stage(timer: StageTimer | None, name: str) -> Iterator[None]:
    """``timer.stage(name)``, or nothing when there is no timer."""
    if timer is None:
        yield
    else:
        with timer.stage(name):
            yield
