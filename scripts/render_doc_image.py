"""Renders the picture of README.md: the sample photo with the debug image's drawing (core.viz) and the
scene node's sentence below it, from the same pipeline and analyzer the nodes run.

    python scripts/render_doc_image.py doc/images/astronaut.jpg
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from face_perception.core.config import PipelineConfig
from face_perception.core.runtime import ModelStore
from face_perception.core.scene.analyzer import SceneAnalyzer
from face_perception.core.scene.config import SceneConfig
from face_perception.core.scene.people import PeopleConfig
from face_perception.core.viz import draw_faces

SAMPLE = Path(__file__).resolve().parents[1] / "face_perception" / "data" / "samples" / "astronaut.jpg"
WIDTH_PX = 512


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    image = cv2.imread(str(SAMPLE), cv2.IMREAD_COLOR)
    analyzer = SceneAnalyzer.from_store(SceneConfig(), PeopleConfig(), ModelStore(), PipelineConfig())
    scene = analyzer.analyze(image)
    faces = [person.face for person in scene.people if person.face is not None]
    drawn = draw_faces(image, faces, list(range(1, len(faces) + 1)))
    for person in scene.people:
        for x, y, score in person.observation.keypoints:
            if score >= 0.3:
                cv2.circle(drawn, (round(float(x)), round(float(y))), 3, (255, 160, 0), -1)
    scale = WIDTH_PX / drawn.shape[1]
    drawn = cv2.resize(drawn, (WIDTH_PX, round(drawn.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    band = np.full((28, WIDTH_PX, 3), 255, np.uint8)
    cv2.putText(band, scene.description, (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (40, 40, 40), 1, cv2.LINE_AA)
    cv2.imwrite(str(args.out), np.vstack([drawn, band]), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"{args.out}: {scene.description}")


if __name__ == "__main__":
    main()
