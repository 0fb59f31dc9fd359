"""The split of the 80 COCO-mini photos into a tuning half and a held-out half, by image id.

The photos are ranked by the sha256 of their image id (as text); the first half tunes, the other
half is held out. Everything tuned or trained on COCO-mini (the posture model, the sentences) uses
only the tuning half; reports give the held-out half on its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def coco_halves(image_ids: Iterable[int]) -> dict[int, str]:
    """``tune`` or ``test`` for each COCO-mini photo id."""
    ranked = sorted(set(image_ids), key=lambda i: hashlib.sha256(str(i).encode()).hexdigest())
    half = (len(ranked) + 1) // 2
    return {image_id: "tune" if rank < half else "test" for rank, image_id in enumerate(ranked)}
