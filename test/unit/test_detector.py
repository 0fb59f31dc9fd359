import xml.etree.ElementTree as ET

import numpy as np
import pytest
from helpers import shared

from face_perception.core.config import DetectorConfig
from face_perception.core.images import read_image
from face_perception.core.models.detector import RetinaFaceDetector, decode, prior_boxes
from face_perception.core.nms import pairwise_iou
from face_perception.core.runtime import ModelStore


@pytest.fixture(scope="module")
def store():
    return ModelStore()


def test_prior_boxes_match_the_network_output_count(store):
    session = store.session("retinaface_mnet025")
    for height, width in ((480, 640), (333, 517)):
        outputs = session.run(None, {"input": np.zeros((1, 3, height, width), np.float32)})
        assert prior_boxes(height, width).shape == (outputs[0].shape[1], 4)


def test_prior_boxes_layout():
    anchors = prior_boxes(64, 64)
    # stride 8: 8x8 cells x 2 sizes first, row-major, sizes 16 then 32
    np.testing.assert_allclose(anchors[0], [4, 4, 16, 16])
    np.testing.assert_allclose(anchors[1], [4, 4, 32, 32])
    np.testing.assert_allclose(anchors[2], [12, 4, 16, 16])
    np.testing.assert_allclose(anchors[16], [4, 12, 16, 16])


def test_decode_zero_regression_gives_the_anchor_box():
    anchors = np.array([[100.0, 50.0, 32.0, 32.0]], dtype=np.float32)
    boxes, points = decode(np.zeros((1, 4), np.float32), np.zeros((1, 10), np.float32), anchors)
    np.testing.assert_allclose(boxes[0], [84, 34, 116, 66])
    np.testing.assert_allclose(points[0], np.tile([100.0, 50.0], (5, 1)))


def test_decode_offsets_and_scale():
    anchors = np.array([[100.0, 100.0, 20.0, 20.0]], dtype=np.float32)
    loc = np.array([[1.0, -1.0, np.log(2.0) / 0.2, 0.0]], dtype=np.float32)
    landmarks = np.array([[1.0, 2.0] * 5], dtype=np.float32)
    boxes, points = decode(loc, landmarks, anchors)
    # centre moves by 0.1 * 20 = 2 px; width doubles to 40
    np.testing.assert_allclose(boxes[0], [82, 88, 122, 108], rtol=1e-5)
    np.testing.assert_allclose(points[0, 0], [102, 104], rtol=1e-5)


def test_astronaut_has_one_face_with_landmarks_inside_the_box(store, astronaut):
    detector = RetinaFaceDetector.from_store(DetectorConfig(), store)
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.95
    box = face.box
    assert 150 < box.x_min < 210 and 250 < box.x_max < 300 and 30 < box.y_min < 90 and 150 < box.y_max < 200
    xs, ys = face.landmarks[:, 0], face.landmarks[:, 1]
    assert np.all((xs > box.x_min) & (xs < box.x_max) & (ys > box.y_min) & (ys < box.y_max))
    assert xs[0] < xs[1] and xs[3] < xs[4]  # image-left eye and mouth corner first
    assert ys[0] < ys[2] < ys[3]  # eyes above nose above mouth


def test_no_face_in_the_rocket_photo(store, rocket):
    assert RetinaFaceDetector.from_store(DetectorConfig(), store).detect(rocket) == []


def test_downscaled_input_keeps_boxes_in_original_pixels(store, astronaut):
    full = RetinaFaceDetector.from_store(DetectorConfig(max_input_side_px=1024), store).detect(astronaut)[0]
    small = RetinaFaceDetector.from_store(DetectorConfig(max_input_side_px=256), store).detect(astronaut)[0]
    iou = pairwise_iou(np.array([full.box.as_list()]), np.array([small.box.as_list()]))[0, 0]
    assert iou > 0.8


def test_recall_on_dlib_annotated_photos(store):
    folder = shared("detection", "dlib_faces")
    detector = RetinaFaceDetector.from_store(DetectorConfig(max_input_side_px=1024), store)
    found = total = false_positives = 0
    for xml_name in ("training.xml", "testing.xml"):
        for image in ET.parse(folder / xml_name).getroot().iter("image"):
            truth = np.array(
                [
                    [
                        int(b.get("left")),
                        int(b.get("top")),
                        int(b.get("left")) + int(b.get("width")),
                        int(b.get("top")) + int(b.get("height")),
                    ]
                    for b in image.iter("box")
                ],
                dtype=float,
            )
            detections = detector.detect(read_image(folder / image.get("file")))
            predicted = np.array([d.box.as_list() for d in detections]).reshape(-1, 4)
            iou = pairwise_iou(truth, predicted)
            total += len(truth)
            if predicted.size:
                found += int((iou.max(axis=1) >= 0.3).sum())
                false_positives += int((iou.max(axis=0) < 0.3).sum())
    assert total == 43
    assert found / total >= 0.95
    assert false_positives <= 2
