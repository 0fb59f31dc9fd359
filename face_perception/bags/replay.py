"""Replay of a bag's image messages at the recorded timing, to any publish function (no ROS here)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from face_perception.bags.process import BagBrokenError, BagError, describe, guarded, image_connections, open_bag


@dataclass(frozen=True)
class ReplayOptions:
    """rate: speed factor (2.0 plays twice as fast); loop: start over at the end; start_offset_s: skip the start."""

    rate: float = 1.0
    loop: bool = False
    start_offset_s: float = 0.0

    def validate(self) -> ReplayOptions:
        if not self.rate > 0:
            raise BagError(f"rate must be positive, got {self.rate}")
        if self.start_offset_s < 0:
            raise BagError(f"start offset must not be negative, got {self.start_offset_s}")
        return self


def replay(
    source: Path,
    publish: Callable[[str, str, bytes], None],
    options: ReplayOptions,
    topics: Iterable[str] | None = None,
    keep_going: Callable[[], bool] = lambda: True,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Call ``publish(topic, msgtype, cdr_bytes)`` for each image message at its recorded time.

    Returns the number of messages published.
    """
    options = options.validate()
    published = 0
    reader = open_bag(source)
    try:
        connections = image_connections(reader, topics)
        start_ns = reader.start_time + int(options.start_offset_s * 1e9)
        if start_ns >= reader.end_time and reader.message_count:
            raise BagError(f"start offset {options.start_offset_s} s is past the end of the bag")
        while keep_going():
            began = clock()
            for item in guarded(reader.messages(connections=connections, start=start_ns)):
                if isinstance(item, Exception):
                    raise BagBrokenError(
                        f"bag {source} cannot be read past message {published}: {describe(item)}"
                    ) from item
                connection, timestamp, data = item
                due = began + (timestamp - start_ns) / 1e9 / options.rate
                delay = due - clock()
                if delay > 0:
                    sleep(delay)
                if not keep_going():
                    return published
                publish(connection.topic, connection.msgtype, bytes(data))
                published += 1
            if not options.loop:
                break
    finally:
        reader.close()
    return published
