import cv2
import numpy as np

from face_perception.core.preprocess import align_faces, face_template, similarity_transform


def test_similarity_transform_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 100, size=(5, 2))
    angle, scale, shift = np.deg2rad(17.0), 1.7, np.array([12.0, -5.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    target = source @ rotation.T + shift
    matrix = similarity_transform(source, target)
    np.testing.assert_allclose(matrix[:, :2], rotation, atol=1e-9)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-9)


def test_aligned_landmarks_land_on_the_template(astronaut, pipeline):
    face = pipeline.process(astronaut).faces[0]
    size, padding = 64, 0.2
    matrix = similarity_transform(face.detection.landmarks, face_template(size, padding))
    mapped = face.detection.landmarks @ matrix[:, :2].T + matrix[:, 2]
    assert np.abs(mapped - face_template(size, padding)).max() < 4.0  # px in a 64 px chip


def test_faces_cut_by_the_image_border_are_kept_and_padded(astronaut, pipeline):
    face = pipeline.process(astronaut).faces[0]
    box = face.detection.box
    # Keep only the right 60% of the face: the face now touches the left border.
    cut = np.ascontiguousarray(astronaut[:, int(box.x_min + 0.4 * box.width) :])
    result = pipeline.process(cut)
    assert len(result.faces) == 1
    chips = align_faces(cut, [result.faces[0].detection.landmarks], 64, 0.2)
    assert chips.shape == (1, 64, 64, 3)
    assert result.faces[0].emotion is not None and result.faces[0].gender is not None


def test_align_faces_at_corner_uses_border_pixels_not_black():
    image = np.full((100, 100, 3), 200, np.uint8)
    landmarks = np.array([[2, 2], [20, 2], [11, 12], [4, 22], [18, 22]], dtype=np.float32)  # top-left corner
    chip = align_faces(image, [landmarks], 32, 0.4)[0]
    assert chip.min() == 200 and chip.max() == 200


def test_gray_images_give_gray_chips():
    image = cv2.cvtColor(np.full((50, 50, 3), 90, np.uint8), cv2.COLOR_BGR2GRAY)
    landmarks = np.array([[15, 20], [35, 20], [25, 28], [17, 37], [33, 37]], dtype=np.float32)
    assert align_faces(image, [landmarks], 16, 0.2).shape == (1, 16, 16, 1)
