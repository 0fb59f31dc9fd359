"""The identity commands' contract: enroll, forget, list, verify, analyze and track --gallery."""

from __future__ import annotations

import csv
import io
import json
import shutil

import cv2
import pytest
from helpers import SAMPLES, shared

from face_perception.cli.main import build_parser, main


def _run(argv: list[str]) -> tuple[int, list[str]]:
    args = build_parser().parse_args(argv)
    out = io.StringIO()
    from face_perception.cli import analyze, identity, track

    module = {"identity": identity, "analyze": analyze, "track": track}[argv[0]]
    code = module.run(args, out=out)
    return code, out.getvalue().splitlines()


def _photos():
    folder = shared("identity", "images")
    return {name: folder / name for name in (
        "train_obama_obama.jpg", "train_obama_obama2.jpg", "test_obama1.jpg", "train_biden_biden2.jpg",
        "biden.jpg", "test_obama_and_biden.jpg", "test_johnsnow_test1.jpg", "train_kit_harington_john1.jpeg",
    )}  # fmt: skip


def test_enroll_list_analyze_forget_on_real_photos(tmp_path):
    photos = _photos()
    gallery = str(tmp_path / "home.db")
    assert _run(["identity", "enroll", "--gallery", gallery, "Barack", str(photos["train_obama_obama.jpg"]),
                 str(photos["train_obama_obama2.jpg"])])[0] == 0  # fmt: skip
    assert _run(["identity", "enroll", "--gallery", gallery, "Joe", str(photos["train_biden_biden2.jpg"])])[0] == 0
    code, lines = _run(["identity", "list", "--gallery", gallery, "--json"])
    people = [json.loads(line) for line in lines]
    assert code == 0 and [(p["name"], p["embeddings"]) for p in people] == [("Barack", 2), ("Joe", 1)]
    assert all(p["first_added"].endswith("+00:00") for p in people)

    code, lines = _run(["analyze", "--gallery", gallery, "--json", str(photos["test_obama_and_biden.jpg"]),
                        str(photos["test_johnsnow_test1.jpg"]), str(SAMPLES / "rocket.jpg")])  # fmt: skip
    records = {r["image"].rsplit("/", 1)[-1]: r for r in map(json.loads, lines)}
    assert code == 0
    both = records["test_obama_and_biden.jpg"]["faces"]
    names = sorted(f["identity"]["name"] for f in both if f["identity"]["name"])
    assert names == ["Barack", "Joe"]
    assert all(set(f["identity"]) == {"name", "distance"} for f in both)
    assert all(f["identity"]["distance"] < 0.6 for f in both if f["identity"]["name"])
    (stranger,) = records["test_johnsnow_test1.jpg"]["faces"]
    assert stranger["identity"]["name"] is None and stranger["identity"]["distance"] >= 0.6
    assert records["rocket.jpg"]["faces"] == []

    code, lines = _run(["identity", "forget", "--gallery", gallery, "Barack"])
    assert code == 0 and "2 embedding(s) removed" in lines[0]
    assert _run(["identity", "forget", "--gallery", gallery, "Barack"])[0] == 1
    code, lines = _run(["analyze", "--gallery", gallery, "--json", str(photos["test_obama1.jpg"])])
    assert json.loads(lines[0])["faces"][0]["identity"]["name"] is None


def test_enroll_is_all_or_nothing_and_refuses_bad_photos(tmp_path, caplog):
    gallery = tmp_path / "g.db"
    astronaut = str(SAMPLES / "astronaut.jpg")
    assert _run(["identity", "enroll", "--gallery", str(gallery), "Eileen", astronaut])[0] == 0
    blurred = tmp_path / "blurred.jpg"
    cv2.imwrite(str(blurred), cv2.GaussianBlur(cv2.imread(astronaut), (0, 0), 6))
    tiny = tmp_path / "tiny.jpg"
    cv2.imwrite(str(tiny), cv2.resize(cv2.imread(astronaut), (96, 96), interpolation=cv2.INTER_AREA))
    for bad, reason in ((SAMPLES / "rocket.jpg", "no face found"), (blurred, "blurred"), (tiny, "too small"),
                        (tmp_path / "missing.jpg", "cannot read")):  # fmt: skip
        caplog.clear()
        code, _ = _run(["identity", "enroll", "--gallery", str(gallery), "Eileen", astronaut, str(bad)])
        assert code == 1 and reason in caplog.text and "nothing stored" in caplog.text
    assert _run(["identity", "enroll", "--gallery", str(gallery), " ", astronaut])[0] == 1
    code, lines = _run(["identity", "list", "--gallery", str(gallery), "--json"])
    assert [json.loads(line)["embeddings"] for line in lines] == [1]  # only the first enrolment


def test_a_corrupt_gallery_is_exit_2_and_left_untouched(tmp_path, caplog):
    gallery = tmp_path / "g.db"
    gallery.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    assert main(["identity", "list", "--gallery", str(gallery)]) == 2
    assert "g.db" in caplog.text
    assert gallery.read_bytes() == b"SQLite format 3\x00" + b"\xff" * 4000
    assert main(["analyze", "--gallery", str(tmp_path / "none.db"), str(SAMPLES)]) == 2
    assert "does not exist" in caplog.text


def test_verify_one_pair_and_a_pairs_file(tmp_path):
    photos = _photos()
    code, lines = _run(["identity", "verify", "--json", str(photos["train_obama_obama.jpg"]),
                        str(photos["test_obama1.jpg"])])  # fmt: skip
    (record,) = map(json.loads, lines)
    assert code == 0 and set(record) == {"a", "b", "same_person", "distance", "threshold"}
    assert record["same_person"] is True and record["distance"] < 0.6 and record["threshold"] == 0.6
    pairs = tmp_path / "pairs.csv"
    shutil.copy(photos["biden.jpg"], tmp_path / "joe.jpg")
    with pairs.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["a", "b"])
        writer.writerow([photos["train_obama_obama.jpg"], photos["train_biden_biden2.jpg"]])
        writer.writerow(["joe.jpg", photos["train_biden_biden2.jpg"]])  # relative to the pairs file
        writer.writerow([photos["train_kit_harington_john1.jpeg"], SAMPLES / "rocket.jpg"])
    code, lines = _run(["identity", "verify", "--json", "--pairs", str(pairs)])
    records = [json.loads(line) for line in lines]
    assert code == 1 and len(records) == 3
    assert records[0]["same_person"] is False and records[0]["distance"] >= 0.6
    assert records[1]["same_person"] is True
    assert "no face found" in records[2]["error"]


def test_verify_without_data_and_bad_arguments(tmp_path, capsys):
    astronaut = SAMPLES / "astronaut.jpg"
    moved = tmp_path / "moved.jpg"
    image = cv2.imread(str(astronaut))
    cv2.imwrite(str(moved), cv2.copyMakeBorder(image, 0, 0, 60, 0, cv2.BORDER_REPLICATE))
    assert main(["identity", "verify", str(astronaut), str(moved)]) == 0
    assert "same person" in capsys.readouterr().out
    assert main(["identity", "verify", str(astronaut)]) == 2
    with pytest.raises(SystemExit):
        main(["identity", "enroll", "Eileen", str(astronaut)])  # --gallery is required


def test_track_with_a_gallery_names_the_track_once(tmp_path):
    gallery = tmp_path / "g.db"
    assert main(["identity", "enroll", "--gallery", str(gallery), "Eileen", str(SAMPLES / "astronaut.jpg")]) == 0
    frames = tmp_path / "frames"
    frames.mkdir()
    image = cv2.imread(str(SAMPLES / "astronaut.jpg"))
    for index in range(8):
        moved = cv2.copyMakeBorder(image, 0, 0, 8 * index, 0, cv2.BORDER_REPLICATE)
        cv2.imwrite(str(frames / f"{index:03d}.jpg"), moved)
    code, lines = _run(["track", "--json", "--gallery", str(gallery), str(frames)])
    records = [json.loads(line) for line in lines]
    assert code == 0
    recognized = [e for r in records for e in r["events"] if e["type"] == "recognized"]
    assert [(e["identity"], e["track_id"]) for e in recognized] == [("Eileen", 1)]
    named = [f["identity"]["name"] for r in records for f in r["faces"]]
    assert named and set(named) == {"Eileen"}


def test_bag_with_a_gallery_writes_the_name_into_the_face_messages(tmp_path):
    from helpers import write_camera_bag
    from rosbags.rosbag2 import Reader

    from face_perception.bags.messages import FACE_ARRAY, typestore

    gallery = tmp_path / "g.db"
    assert main(["identity", "enroll", "--gallery", str(gallery), "Eileen", str(SAMPLES / "astronaut.jpg")]) == 0
    image = cv2.imread(str(SAMPLES / "astronaut.jpg"))
    frames = [cv2.copyMakeBorder(image, 0, 0, 64 + 4 * i, 64 - 4 * i, cv2.BORDER_REPLICATE) for i in range(6)]
    write_camera_bag(tmp_path / "in", frames, period_s=0.1)
    argv = ["bag", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--gallery", str(gallery),
            "--topics", "/camera/image_raw", "--jsonl", str(tmp_path / "r.jsonl"), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    records = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [e for r in records for e in r["events"] if e["type"] == "recognized"] == [
        {"type": "recognized", "track_id": 1, "identity": "Eileen"}
    ]
    store = typestore()
    with Reader(tmp_path / "out") as reader:
        arrays = [
            store.deserialize_cdr(raw, FACE_ARRAY)
            for connection, _, raw in reader.messages()
            if connection.msgtype == FACE_ARRAY
        ]
    named = [(f.identity, float(f.identity_distance)) for a in arrays for f in a.faces]
    assert named and all(name == "Eileen" and distance < 0.6 for name, distance in named)
