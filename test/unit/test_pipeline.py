import cv2
import numpy as np
import pytest
from helpers import shared, utkface_files

from face_perception.core.config import HeadConfig, PipelineConfig
from face_perception.core.errors import ImageError
from face_perception.core.images import read_image
from face_perception.core.pipeline import FacePipeline
from face_perception.core.types import EMOTION_LABELS


def test_astronaut_attributes(pipeline, astronaut):
    result = pipeline.process(astronaut)
    assert (result.image_width, result.image_height) == (512, 512)
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.emotion.label == "happy" and face.emotion.score > 0.8
    assert list(face.emotion.scores) == list(EMOTION_LABELS)
    assert abs(sum(face.emotion.scores.values()) - 1.0) < 1e-4
    assert face.gender.label == "female" and face.gender.score > 0.9
    assert 20 < face.age < 55
    assert result.latency_s > 0


def test_no_faces_is_an_empty_result_not_an_error(pipeline, rocket):
    assert pipeline.process(rocket).faces == []


@pytest.mark.parametrize(
    "convert",
    [
        lambda i: cv2.cvtColor(i, cv2.COLOR_BGR2GRAY),
        lambda i: cv2.cvtColor(i, cv2.COLOR_BGR2BGRA),
        lambda i: cv2.cvtColor(i, cv2.COLOR_BGR2GRAY)[..., None],
    ],
)
def test_gray_and_bgra_inputs(pipeline, astronaut, convert):
    assert len(pipeline.process(convert(astronaut)).faces) == 1


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((0, 10, 3), np.uint8), "non-empty"),
        (np.zeros((10, 10, 3), np.float32), "uint8"),
        (np.zeros((10, 10, 2), np.uint8), "channel"),
        (np.zeros((10,), np.uint8), "non-empty"),
        ("not an image", "numpy array"),
    ],
)
def test_bad_images_raise_image_error(pipeline, image, message):
    with pytest.raises(ImageError, match=message):
        pipeline.process(image)


def test_huge_image_is_refused_before_any_work():
    small_limit = FacePipeline(PipelineConfig(max_image_side_px=400))
    with pytest.raises(ImageError, match="max_image_side_px=400"):
        small_limit.process(np.zeros((401, 10, 3), np.uint8))


def test_disabled_heads_leave_fields_empty(astronaut):
    only_emotion = PipelineConfig(
        heads={
            "emotion": HeadConfig(True, "emotion_mini_xception"),
            "gender": HeadConfig(False, "gender_dlib_v1"),
            "age": HeadConfig(False, "age_dlib_v1"),
        }
    )
    face = FacePipeline(only_emotion).process(astronaut).faces[0]
    assert face.emotion is not None and face.gender is None and face.age is None


def test_batched_heads_equal_one_face_at_a_time(pipeline):
    crops = [read_image(path) for path in utkface_files("dev", limit=12)]
    batched = pipeline.process_crops(crops)
    single = [pipeline.process_crops([crop])[0] for crop in crops]
    for a, b in zip(batched, single, strict=True):
        assert a.gender.label == b.gender.label and a.emotion.label == b.emotion.label
        assert a.age == pytest.approx(b.age, abs=1e-3)
        assert a.emotion.scores["happy"] == pytest.approx(b.emotion.scores["happy"], abs=1e-5)


def test_several_faces_in_one_frame_are_classified_in_one_batch(pipeline):
    crops = [cv2.resize(read_image(p), (160, 160)) for p in utkface_files("dev", limit=4)]
    canvas = np.full((200, 4 * 200, 3), 128, np.uint8)
    for index, crop in enumerate(crops):
        canvas[20:180, index * 200 + 20 : index * 200 + 180] = crop
    faces = pipeline.process(canvas).faces
    assert len(faces) == 4
    centres = sorted((f.detection.box.x_min + f.detection.box.x_max) / 2 for f in faces)
    assert [int(c // 200) for c in centres] == [0, 1, 2, 3]


def _fer_accuracy(model_id: str) -> float:
    folder = shared("fer2013", "public_test")
    config = PipelineConfig.from_parameters({"emotion.model": model_id, "gender.enabled": False, "age.enabled": False})
    emotion_only = FacePipeline(config)
    files = sorted(folder.glob("*/*"))
    assert len(files) == 3589
    correct = 0
    for start in range(0, len(files), 512):
        batch = files[start : start + 512]
        faces = emotion_only.process_crops([read_image(f) for f in batch])
        correct += sum(face.emotion.label == f.parent.name for face, f in zip(faces, batch, strict=True))
    return correct / len(files)


def test_emotion_accuracy_on_fer2013_public_test():
    # measured here: 65.1% for the seed model (its paper says 66%), 67.5% for the project's model,
    # 68.5% for it averaged with its mirror image (the default)
    assert _fer_accuracy("emotion_mini_xception") > 0.64
    assert _fer_accuracy("emotion_chipnet") > 0.665
    assert _fer_accuracy("emotion_chipnet_flip") > 0.675


def test_gender_accuracy_on_utkface_adults(pipeline):
    files = [p for p in utkface_files("dev") if 20 <= int(p.name.split("_")[0]) <= 70][:400]
    faces = pipeline.process_crops([read_image(p) for p in files])
    truth = ["male" if p.name.split("_")[1] == "0" else "female" for p in files]
    answered = [(f.gender.label, t) for f, t in zip(faces, truth, strict=True) if f.gender.answered]
    # with the default abstention: right on 97.9% of answered adults, 94% answered (UTKFace dev)
    assert np.mean([label == t for label, t in answered]) > 0.96 and len(answered) > 0.9 * len(files)
    own_answer = [
        ("male" if f.gender.scores["male"] >= 0.5 else "female") == t for f, t in zip(faces, truth, strict=True)
    ]
    assert np.mean(own_answer) > 0.9
