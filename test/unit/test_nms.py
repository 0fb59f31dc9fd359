import numpy as np

from face_perception.core.nms import box_iou, nms, pairwise_iou


def test_iou_of_known_boxes():
    a = np.array([0.0, 0.0, 10.0, 10.0])
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], dtype=float)
    np.testing.assert_allclose(box_iou(a, boxes), [1.0, 50 / 150, 0.0])
    np.testing.assert_allclose(pairwise_iou(a[None], boxes)[0], box_iou(a, boxes))


def test_nms_keeps_the_best_of_each_cluster_in_score_order():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [51, 50, 61, 60]], dtype=float)
    scores = np.array([0.8, 0.9, 0.7, 0.95])
    assert nms(boxes, scores, 0.4).tolist() == [3, 1]


def test_nms_threshold_and_limit():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [100, 0, 110, 10]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.2).tolist() == [0, 2]  # IoU 1/3 > 0.2 suppresses box 1
    assert nms(boxes, scores, 0.5).tolist() == [0, 1, 2]
    assert nms(boxes, scores, 0.5, max_keep=2).tolist() == [0, 1]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []
