"""The captioner wired into the scene analysis: ``describe --captioner``, its parameters, the caption rate
limit and the caption alert path."""

from __future__ import annotations

import argparse
import io
import json
import logging
import shutil

import pytest
from helpers import ROOT, SAMPLES, shared
from scene_data import STANDING_MAN, LabeledPeople, labeled_photo

from face_perception.cli import describe
from face_perception.cli.main import main
from face_perception.core.errors import ConfigError, ModelError
from face_perception.core.images import read_image
from face_perception.core.scene.analyzer import SceneAnalyzer
from face_perception.core.scene.caption_alerts import caption_findings
from face_perception.core.scene.captioner import CaptionerConfig, ImageCaptioner, load_captioner
from face_perception.core.scene.config import SceneConfig, load_scene_config

pytest.importorskip("tokenizers", reason="the captioner needs tokenizers (pip install 'face_perception[captioner]')")

FIXTURE = ROOT / "test" / "data" / "captioner_tiny"


def _describe(paths, **flags) -> tuple[int, list[dict]]:
    out = io.StringIO()
    values = {"json": True, "config": None, "no_faces": True, "captioner": None, "beam_size": None, **flags}
    code = describe.run(argparse.Namespace(paths=[str(p) for p in paths], **values), out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("beams", [1, 3])
def test_describe_with_a_captioner_folder_gives_the_runtimes_own_caption(beams):
    images = [SAMPLES / "rocket.jpg", SAMPLES / "astronaut.jpg"]
    code, records = _describe(images, captioner=FIXTURE, beam_size=beams)
    assert code == 0 and len(records) == 2
    runtime = ImageCaptioner.from_folder(FIXTURE, beam_size=beams)
    for image, record in zip(images, records, strict=True):
        expected = runtime.caption(read_image(image))
        assert expected and record["caption"] == expected
        assert record["description"].endswith(f"({expected.strip().rstrip('.')})")


def test_describe_takes_the_captioner_from_the_parameters_file(tmp_path):
    params = tmp_path / "scene.yaml"
    params.write_text(f'/**:\n  ros__parameters:\n    captioner:\n      model_dir: "{FIXTURE}"\n      beam_size: 2\n')
    code, records = _describe([SAMPLES / "rocket.jpg"], config=params)
    expected = ImageCaptioner.from_folder(FIXTURE, beam_size=2).caption(read_image(SAMPLES / "rocket.jpg"))
    assert code == 0 and records[0]["caption"] == expected
    _, without = _describe([SAMPLES / "rocket.jpg"])
    assert without[0]["caption"] == "" and "(" not in without[0]["description"]


def test_a_bad_captioner_folder_exits_2_naming_it(tmp_path, caplog):
    missing = tmp_path / "no_such_captioner"
    with caplog.at_level(logging.ERROR):
        assert main(["describe", "--captioner", str(missing), str(SAMPLES / "rocket.jpg")]) == 2
    assert f"captioner folder {missing} does not exist" in caplog.text
    assert "Traceback" not in caplog.text

    broken = tmp_path / "broken"
    shutil.copytree(FIXTURE, broken)
    (broken / "encoder_model.onnx").write_bytes(b"not an onnx model")
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert main(["describe", "--captioner", str(broken), str(SAMPLES / "rocket.jpg")]) == 2
    assert str(broken / "encoder_model.onnx") in caplog.text

    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert main(["describe", "--captioner", str(FIXTURE), "--beam-size", "0", str(SAMPLES / "rocket.jpg")]) == 2
    assert "captioner.beam_size" in caplog.text


def test_captioner_parameters_round_trip_and_name_bad_values(tmp_path):
    params = SceneConfig().to_parameters()
    assert params["captioner.model_dir"] == "" and not SceneConfig().captioner.enabled
    assert {"captioner.beam_size", "captioner.max_length", "captioner.period_s"} <= set(params)
    with pytest.raises(ConfigError, match="captioner.period_s"):
        SceneConfig.from_parameters({"captioner.period_s": -1.0})
    with pytest.raises(ConfigError, match="captioner.model_dir"):
        SceneConfig.from_parameters({"captioner.model_dir": 3})
    yaml_file = tmp_path / "scene.yaml"
    yaml_file.write_text(f"/**:\n  ros__parameters:\n    captioner:\n      model_dir: {FIXTURE}\n      period_s: 2\n")
    config = load_scene_config(yaml_file).captioner
    assert config.enabled and config.period_s == 2.0
    assert load_captioner(CaptionerConfig()) is None
    captioner = load_captioner(config)
    assert isinstance(captioner, ImageCaptioner) and captioner.max_length == 20
    with pytest.raises(ModelError, match="tokenizer.json"):
        broken = tmp_path / "no_tokenizer"
        shutil.copytree(FIXTURE, broken)
        (broken / "tokenizer.json").unlink()
        load_captioner(CaptionerConfig(model_dir=str(broken)))


class CountingCaptioner:
    """The fixture captioner, counting the images it was asked about."""

    def __init__(self) -> None:
        self.runtime = ImageCaptioner.from_folder(FIXTURE)
        self.calls = 0

    def caption(self, image_bgr):
        self.calls += 1
        return self.runtime.caption(image_bgr)


def test_a_sequence_is_captioned_at_most_once_per_period_and_a_still_photo_always():
    scene = labeled_photo(STANDING_MAN)
    captioner = CountingCaptioner()
    config = SceneConfig(captioner=CaptionerConfig(period_s=2.5))
    analyzer = SceneAnalyzer(config, LabeledPeople([(scene, "standing")]), captioner=captioner)
    made_at = []
    for t in range(7):
        before = captioner.calls
        result = analyzer.analyze(scene.image, float(t))
        if captioner.calls > before:
            made_at.append(t)
        assert result.caption == captioner.runtime.caption(scene.image)  # reused in between
    assert made_at == [0, 3, 6]
    analyzer.analyze(scene.image)  # a still photo
    analyzer.analyze(scene.image)
    assert captioner.calls == 5
    analyzer.analyze(scene.image, 1.0)  # time went back: start over, caption anew
    assert captioner.calls == 6


class CocoSentences:
    """Gives the human-written COCO captions of coco_mini photos in turn, one per ``caption`` call.

    Not a model: it lets real sentences travel the alert path (caption -> findings -> caption alert).
    """

    def __init__(self, sentences: list[str]) -> None:
        self.sentences = list(sentences)

    def caption(self, image_bgr):
        return self.sentences.pop(0)


def _coco_caption(image_id: int, word: str) -> str:
    captions = json.loads(shared("coco_mini", "captions_train2017.json").read_text())["annotations"]
    return next(c["caption"] for c in captions if c["image_id"] == image_id and word in c["caption"])


def test_alarming_caption_words_raise_a_caption_alert_held_between_captions_and_cleared():
    scene = labeled_photo(STANDING_MAN)
    harmless = _coco_caption(234748, "phone")  # "A man talking on a phone standing behind a blue car."
    alarming = _coco_caption(535506, "knife in her hand")  # "A lady with dark brown hair has a knife in her hand."
    assert caption_findings(harmless) == [] and caption_findings(alarming)
    config = SceneConfig(captioner=CaptionerConfig(period_s=4.0))
    analyzer = SceneAnalyzer(
        config,
        LabeledPeople([(scene, "standing")]),
        captioner=CocoSentences([harmless, alarming, harmless, harmless]),
        caption_alerts=caption_findings,
    )
    results = {t: analyzer.analyze(scene.image, float(t)) for t in range(0, 13)}
    assert results[0].alerts == [] and results[3].caption == harmless
    raised = results[4]
    assert raised.caption == alarming and [a.type for a in raised.alerts] == ["caption"]
    alert = raised.alerts[0]
    assert not alert.people
    assert "knife" in alert.description and alert.score == pytest.approx(caption_findings(alarming)[0][1])
    assert all([a.alert_id for a in results[t].alerts] == [alert.alert_id] for t in range(4, 8))  # held
    assert results[8].caption == harmless
    cleared = [a for t in range(8, 13) for a in results[t].changed_alerts if not a.active]
    assert [a.alert_id for a in cleared] == [alert.alert_id] and results[12].alerts == []
