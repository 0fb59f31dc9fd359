"""eval captions: the split, the scorer (with Java and with the Python fallback) and the command, on COCO-mini."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import SHARED_DATA, shared

from face_perception.cli.main import main
from face_perception.evaluation.captions import (
    CONSTANT_SENTENCE,
    CaptionScorer,
    human_baseline,
    java_available,
    load_captioned_photos,
    plain_tokenize,
    split_photos,
)

pytest.importorskip("pycocoevalcap", reason="pycocoevalcap is an eval extra: pip install '.[eval]'")


def _photos():
    shared("coco_mini", "captions_train2017.json")
    return load_captioned_photos(SHARED_DATA)


def test_plain_tokenizer_keeps_words_and_drops_punctuation():
    assert plain_tokenize("A man's dog, running -- FAST!  2 cats.") == "a man's dog running fast 2 cats"


def test_the_split_is_fixed_by_image_id_and_halves_the_photos():
    photos = _photos()
    parts = split_photos(photos)
    tuning, held_out = {p.image_id for p in parts["tuning"]}, {p.image_id for p in parts["held-out"]}
    assert len(tuning) == len(held_out) == 40 and not tuning & held_out
    assert {p.image_id for p in split_photos(list(reversed(photos)))["tuning"]} == tuning
    assert all(len(p.captions) == 5 for p in photos)


@pytest.mark.parametrize("java", [True, False])
def test_people_outscore_a_constant_sentence(java):
    if java and not java_available():
        pytest.skip("java is not installed: the PTB tokenizer and METEOR cannot run")
    photos = split_photos(_photos())["tuning"]
    references = {p.image_id: list(p.captions[1:]) for p in photos}
    with CaptionScorer(java) as scorer:
        human = scorer.score({p.image_id: p.captions[0] for p in photos}, references)
        constant = scorer.score({p.image_id: CONSTANT_SENTENCE for p in photos}, references)
        baseline = human_baseline(scorer, photos[:10])
    assert human.tokenizer == ("ptb" if java else "plain")
    assert human.cider > 0.6 > 0.1 > constant.cider and human.bleu[0] > constant.bleu[0]
    if java:
        assert human.meteor > 0.18 > 0.1 > constant.meteor
    else:
        assert human.meteor is None and constant.meteor is None and baseline.meteor is None
    assert baseline.cider > 0.5


def test_eval_captions_without_java_reports_cider_and_bleu_and_says_why(tmp_path, monkeypatch, capsys):
    shared("coco_mini")
    monkeypatch.setenv("PATH", str(tmp_path / "no-java"))  # the command needs nothing from PATH but java
    assert shutil.which("java") is None
    assert main(["eval", "captions", "--data", str(SHARED_DATA), "--out", str(tmp_path)]) == 0
    assert "java was not found" in capsys.readouterr().err
    report = (tmp_path / "captions" / "report.md").read_text()
    assert "java was not found" in report and "plain Python tokenizer" in report
    metrics = json.loads((tmp_path / "captions" / "metrics.json").read_text())
    assert metrics["tokenizer"] == "plain"
    for part in ("held-out", "tuning"):
        ours = metrics[part]["first sentence (the caption)"]
        constant = metrics[part][f'constant "{CONSTANT_SENTENCE}"']
        assert ours["METEOR"] is None and ours["CIDEr"] > 2 * constant["CIDEr"]
        assert metrics[part]["one human caption vs the other four"]["CIDEr"] > ours["CIDEr"]
    rows = [line for line in report.splitlines() if line.startswith("| ") and line.split("|")[1].strip().isdigit()]
    assert len(rows) == 40  # the held-out photos' sentences
