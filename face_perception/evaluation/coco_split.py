"""The split of the 80 COCO-mini photos into a tuning half and a held-out half, by image id.

Everything tuned or trained on COCO-mini (the posture model, the sentences) uses only the ``tune``
half; reports give the ``test`` half on its own.
"""

from __future__ import annotations

import hashlib

SALT = "coco-mini-split-v1"


def coco_split(image_id: int) -> str:
    """``tune`` or ``test`` for a COCO-mini photo id."""
    return "test" if hashlib.sha256(f"{SALT}:{image_id}".encode()).digest()[0] < 128 else "tune"
