"""Speed work: one-pass detector input, stage timer, blended photo set, photo bench, int8 models."""

import json

import cv2
import numpy as np
import pytest
from helpers import SAMPLES, shared, utkface_files

from face_perception.cli import bench
from face_perception.cli.bench_photos import found_labels
from face_perception.cli.main import build_parser
from face_perception.core.config import DetectorConfig, PipelineConfig
from face_perception.core.images import read_image
from face_perception.core.models.age import AgeEstimator
from face_perception.core.models.detector import RetinaFaceDetector
from face_perception.core.models.emotion import EmotionClassifier
from face_perception.core.models.eyewear import EyewearClassifier
from face_perception.core.models.gender import GenderClassifier
from face_perception.core.nms import pairwise_iou
from face_perception.core.pipeline import FacePipeline
from face_perception.core.runtime import ModelStore
from face_perception.core.timing import StageTimer
from face_perception.evaluation.blended import FRAME_SIZE, build_blended, read_labeled_folder


@pytest.fixture(scope="module")
def store():
    return ModelStore()


@pytest.mark.parametrize("max_side", [640, 320])
def test_detector_input_equals_the_plain_float_path(store, astronaut, max_side):
    detector = RetinaFaceDetector.from_store(DetectorConfig(max_input_side_px=max_side), store)
    tensor, scale = detector._preprocess(astronaut)
    image = astronaut
    if scale < 1.0:
        size = (round(astronaut.shape[1] * scale), round(astronaut.shape[0] * scale))
        image = cv2.resize(astronaut, size, interpolation=cv2.INTER_AREA)
    plain = (image.astype(np.float32) - detector.mean_bgr).transpose(2, 0, 1)[None]
    assert tensor.dtype == np.float32 and tensor.flags.c_contiguous
    np.testing.assert_array_equal(tensor, plain)


def test_stage_timer_sees_every_stage_of_a_frame(pipeline, astronaut):
    timer = StageTimer()
    result = pipeline.process(astronaut, timer)
    assert len(result.faces) == 1
    expected = {"detector_resize", "detector_input", "detector_net", "detector_post", *pipeline.heads}
    assert expected <= set(timer.stages)
    assert any(name.endswith("_chips") for name in timer.stages)
    assert all(t.wall_s > 0 and t.cpu_s >= 0 for t in timer.stages.values())
    # the network is the bulk of the detector's work
    assert timer.stages["detector_net"].cpu_s > timer.stages["detector_post"].cpu_s


def test_found_labels_matches_by_overlap():
    labels = np.array([[0, 0, 100, 100], [200, 200, 260, 260]], float)
    boxes = np.array([[10, 5, 105, 110]], float)
    assert found_labels(labels, boxes).tolist() == [True, False]
    assert found_labels(labels, np.empty((0, 4))).tolist() == [False, False]


@pytest.fixture(scope="module")
def blended(tmp_path_factory):
    shared("utkface", "dev")
    shared("coco_mini", "images_train2017")
    from helpers import SHARED_DATA

    folder = tmp_path_factory.mktemp("blended")
    return folder, build_blended(SHARED_DATA, folder, frames=6, seed=3)


def test_blended_set_is_seeded_and_labeled(blended, tmp_path):
    from helpers import SHARED_DATA

    folder, frames = blended
    assert read_labeled_folder(folder) is not None and len(read_labeled_folder(folder)) == 6
    again = build_blended(SHARED_DATA, tmp_path, frames=6, seed=3)
    for first, second in zip(frames, again, strict=True):
        np.testing.assert_array_equal(first.faces, second.faces)
    width, height = FRAME_SIZE
    for frame in frames:
        assert read_image(frame.path).shape == (height, width, 3)
        assert 1 <= len(frame.faces) <= 4
        sides = frame.faces[:, 2] - frame.faces[:, 0]
        assert (sides >= 0.8 * 40).all() and (sides <= 200).all()
        assert (frame.faces[:, :2] >= 0).all() and (frame.faces[:, 2] <= width).all()
    assert json.loads((folder / "labels.json").read_text())["settings"]["split"] == "dev"


def test_the_detector_finds_the_pasted_faces(blended, pipeline):
    _, frames = blended
    hits = [found_labels(f.faces, _boxes(pipeline.detector.detect(read_image(f.path)))) for f in frames]
    assert np.concatenate(hits).mean() >= 0.8


def _boxes(detections) -> np.ndarray:
    return np.array([d.box.as_list() for d in detections], float).reshape(-1, 4)


def test_bench_on_a_blended_folder_reports_stages_and_recall(blended, capsys):
    folder, _ = blended
    args = build_parser().parse_args(["bench", "--blended", str(folder), "--repeats", "1", "--json"])
    assert bench.run(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"] == 6 and report["recall"] >= 0.8
    assert report["frame_cpu"]["median_ms"] > 0 and report["heads_per_face_cpu_ms"] > 0
    assert {"detector_net", "eyeglasses", "age"} <= set(report["stages"])


def test_bench_on_unlabeled_photos_has_no_recall(capsys):
    args = build_parser().parse_args(["bench", "--photos", str(SAMPLES), "--repeats", "1", "--json"])
    assert bench.run(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"] == 2 and "recall" not in report


def test_int8_detector_finds_the_same_face(store, astronaut):
    full = RetinaFaceDetector.from_store(DetectorConfig(), store).detect(astronaut)
    int8 = RetinaFaceDetector.from_store(DetectorConfig(model="retinaface_mnet025_int8"), store).detect(astronaut)
    assert len(int8) == len(full) == 1
    assert pairwise_iou(_boxes(full), _boxes(int8))[0, 0] > 0.9
    assert np.abs(full[0].landmarks - int8[0].landmarks).max() < 4.0


def test_int8_heads_agree_with_their_float_models(store):
    crops = [read_image(p) for p in utkface_files("dev", 24)]
    # the float detector cuts the chips, as when these tolerances were set
    params = {"detector.model": "retinaface_mnet025", **{f"{h}.enabled": False for h in PipelineConfig().heads}}
    pipeline = FacePipeline(PipelineConfig.from_parameters(params))
    for cls, full_id, int8_id in (
        (AgeEstimator, "age_dlib_v1", "age_dlib_v1_int8"),
        (EyewearClassifier, "eyewear_chipnet", "eyewear_chipnet_int8"),
        (GenderClassifier, "gender_dlib_v1", "gender_dlib_v1_int8"),
        (EmotionClassifier, "emotion_chipnet", "emotion_chipnet_int8"),
        (EmotionClassifier, "emotion_chipnet_flip", "emotion_chipnet_int8_flip"),
    ):
        full, int8 = cls.from_store(store, full_id), cls.from_store(store, int8_id)
        chips = pipeline.crop_chips(crops, full.spec.size, full.spec.crop_padding)
        if cls is AgeEstimator:
            difference = np.abs(
                np.array([a.years for a in full.predict(chips)]) - np.array([a.years for a in int8.predict(chips)])
            )
            assert np.median(difference) < 1.5 and difference.max() < 6.0
        elif cls is EyewearClassifier:
            p_full = np.array([e.probability for e in full.predict(chips)])
            p_int8 = np.array([e.probability for e in int8.predict(chips)])
            assert np.abs(p_full - p_int8).max() < 0.1
        else:
            p_full = np.array([list(c.scores.values()) for c in full.predict(chips)])
            p_int8 = np.array([list(c.scores.values()) for c in int8.predict(chips)])
            assert np.abs(p_full - p_int8).max() < 0.15
            assert (p_full.argmax(axis=1) == p_int8.argmax(axis=1)).mean() >= 0.9


def test_detect_near_finds_the_face_again_after_it_moved(store, astronaut):
    detector = RetinaFaceDetector.from_store(DetectorConfig(model="retinaface_mnet025_int8"), store)
    (face,) = detector.detect(astronaut)
    moved = np.ascontiguousarray(np.roll(astronaut, (9, 14), axis=(0, 1)))
    (again,) = detector.detect_near(moved, [face.box])
    assert again is not None
    np.testing.assert_allclose(again.box.as_list(), np.array(face.box.as_list()) + [14, 9, 14, 9], atol=6)
    np.testing.assert_allclose(again.landmarks, face.landmarks + [14, 9], atol=4)
    # nothing near an empty patch of the photo
    far = detector.detect_near(astronaut, [type(face.box)(400.0, 400.0, 440.0, 440.0)])
    assert far == [None]


def test_sequence_mode_searches_the_whole_frame_every_nth_frame(astronaut):
    config = PipelineConfig.from_parameters({"detector.full_frame_every": 3})
    pipeline = FacePipeline(config)
    frames = [np.ascontiguousarray(np.roll(astronaut, 3 * i, axis=1)) for i in range(6)]
    stages, results = [], []
    for frame in frames:
        timer = StageTimer()
        results.append(pipeline.process(frame, timer))
        stages.append(set(timer.stages))
    assert all(len(r.faces) == 1 for r in results)
    # whole-frame passes (0 and 3) run every head; the others run emotion only and carry the rest
    assert [("eyeglasses" in s) for s in stages] == [True, False, False, True, False, False]
    assert all("emotion" in s for s in stages)
    assert results[1].faces[0].age == results[0].faces[0].age
    assert results[1].faces[0].detection.box.x_min == pytest.approx(results[0].faces[0].detection.box.x_min + 3, abs=3)
    pipeline.reset()
    timer = StageTimer()
    pipeline.process(frames[0], timer)
    assert "eyeglasses" in timer.stages


def test_sequence_mode_off_gives_the_same_results_as_before(pipeline, astronaut):
    again = FacePipeline(PipelineConfig.from_parameters({"detector.full_frame_every": 1}))
    for _ in range(2):
        first, second = pipeline.process(astronaut).faces, again.process(astronaut).faces
        assert first[0].age == second[0].age and first[0].detection.box == second[0].detection.box


def test_panning_sequence_moves_labels_with_the_view(blended):
    from face_perception.evaluation.blended import panning_sequence

    _, frames = blended
    sequence = panning_sequence(frames, 8, 4)
    assert len(sequence) == 8 and all(f.image.shape == (480, 640, 3) for f in sequence)
    assert sequence[0].path == sequence[3].path != sequence[4].path
    first, later = sequence[0].faces, sequence[2].faces
    if len(first) == len(later):
        np.testing.assert_allclose(later[:, 0], first[:, 0] - 4)


def test_faces_found_near_known_ones_have_plain_float_fields(store, astronaut):
    # ROS messages accept Python floats only
    detector = RetinaFaceDetector.from_store(DetectorConfig(), store)
    (face,) = detector.detect(astronaut)
    (again,) = detector.detect_near(astronaut, [face.box])
    assert all(type(v) is float for v in [*again.box.as_list(), again.score])
    assert again.landmarks.dtype == np.float32


def test_bench_set_overrides_a_parameter_and_refuses_unknown_ones(capsys):
    from face_perception.core.errors import ConfigError

    args = build_parser().parse_args(
        ["bench", "--photos", str(SAMPLES), "--repeats", "1", "--json", "--set", "eyeglasses.enabled=false"]
    )
    assert bench.run(args) == 0
    assert "eyeglasses" not in json.loads(capsys.readouterr().out)["heads"]
    with pytest.raises(ConfigError, match="unknown parameter"):
        bench.run(build_parser().parse_args(["bench", "--set", "detectr.model=x"]))


def test_frames_to_find_follows_each_entering_face_with_the_pan():
    from face_perception.cli.bench_photos import frames_to_find
    from face_perception.evaluation.blended import PAN_PX, LabeledFrame

    hold = 4
    first = np.array([[100, 100, 180, 180], [400, 200, 440, 240]], float)
    second = np.array([[300, 50, 400, 150]], float)
    frames = [LabeledFrame(SAMPLES, first - [PAN_PX * k, 0, PAN_PX * k, 0]) for k in range(hold)]
    frames += [LabeledFrame(SAMPLES, second - [PAN_PX * k, 0, PAN_PX * k, 0]) for k in range(hold)]
    empty = np.empty((0, 4))
    # photo 1: the first face found at once, the second only from its third frame; photo 2: never found
    detected = [first[:1], first[:1] - [PAN_PX, 0, PAN_PX, 0], frames[2].faces, frames[3].faces] + [empty] * hold
    assert frames_to_find(frames, detected, hold) == [0.0, 2.0, float("inf")]


def test_bench_on_a_stream_reports_how_soon_entering_faces_are_found(blended, capsys):
    folder, _ = blended
    argv = ["bench", "--blended", str(folder), "--hold", "3", "--sequence-frames", "9", "--repeats", "1", "--json"]
    assert bench.run(build_parser().parse_args(argv)) == 0
    entering = json.loads(capsys.readouterr().out)["entering"]
    assert entering["faces"] >= 3 and entering["found_share"] >= 0.8
    assert entering["frames_to_find_median"] == 0.0  # every frame searched whole: found on arrival


def test_sequence_mode_searches_a_new_view_whole_at_once(astronaut):
    pipeline = FacePipeline(PipelineConfig.from_parameters({"detector.full_frame_every": 3}))
    (first,) = pipeline.process(astronaut).faces
    nudged = np.ascontiguousarray(np.roll(astronaut, 4, axis=1))
    timer = StageTimer()
    assert len(pipeline.process(nudged, timer).faces) == 1
    assert "eyeglasses" not in timer.stages  # the same view: only near the known face
    # the view jumps (a cut): the face is far from its last box, where a look near it cannot reach
    jumped = np.ascontiguousarray(np.roll(astronaut, 200, axis=1))
    timer = StageTimer()
    (found,) = pipeline.process(jumped, timer).faces
    assert "eyeglasses" in timer.stages and "detector_cut" in timer.stages
    assert found.detection.box.x_min == pytest.approx(first.detection.box.x_min + 200, abs=6)
