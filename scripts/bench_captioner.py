#!/usr/bin/env python3
"""Caption latency of an ONNX captioner folder on the bundled sample photos.

    python scripts/bench_captioner.py MODEL_DIR [--beam-size 1] [--max-length 20] [--repeats 20] [--threads 1]

Prints the median wall and CPU (process) time per caption, with the image preparation alone beside it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2

from face_perception.core.scene.captioner import ImageCaptioner, ImageSpec

SAMPLES = Path(__file__).resolve().parents[1] / "face_perception" / "data" / "samples"


def timed(function, repeats: int) -> tuple[float, float]:  # noqa: ANN001
    """Median wall and process CPU milliseconds of ``function()`` over ``repeats`` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    captioner = ImageCaptioner.from_folder(args.model_dir, args.beam_size, args.max_length, args.threads)
    frame = cv2.resize(cv2.imread(str(SAMPLES / "rocket.jpg")), (640, 480), interpolation=cv2.INTER_AREA)
    images = {"astronaut 512x512": cv2.imread(str(SAMPLES / "astronaut.jpg")), "rocket 640x480": frame}
    print(f"{args.model_dir}  beam_size={args.beam_size} max_length={args.max_length} threads={args.threads}")
    for name, image in images.items():
        captioner.caption(image)  # warm-up
        tokens = len(captioner.generate(captioner.image_spec.pixel_values([image]))[0])
        prep_wall, prep_cpu = timed(lambda image=image: captioner.image_spec.pixel_values([image]), args.repeats)
        wall, cpu = timed(lambda image=image: captioner.caption(image), args.repeats)
        print(
            f"{name}: caption {wall:.1f} ms wall / {cpu:.1f} ms CPU ({tokens} tokens); "
            f"image preparation {prep_wall:.1f} ms wall / {prep_cpu:.1f} ms CPU (medians of {args.repeats})"
        )
    spec_224 = ImageSpec(height=224, width=224)  # what real ViT captioners take
    wall, cpu = timed(lambda: spec_224.pixel_values([frame]), args.repeats)
    print(f"image preparation of rocket 640x480 for a 224x224 encoder: {wall:.1f} ms wall / {cpu:.1f} ms CPU")
    batch = [images["rocket 640x480"]] * 4
    wall, cpu = timed(lambda: captioner.caption_batch(batch), max(3, args.repeats // 4))
    print(f"batch of 4 rocket 640x480: {wall:.1f} ms wall / {cpu:.1f} ms CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
