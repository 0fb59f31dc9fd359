#!/usr/bin/env python3
"""Build the tiny ONNX captioner fixture in test/data/captioner_tiny/ and its reference token ids.

A VisionEncoderDecoder model (ViT encoder + GPT-2 decoder) with tiny hidden sizes and random weights
(fixed seed, nothing downloaded), a byte-level BPE tokenizer trained here on a few sentences, exported with
optimum's ONNX exporter for ``image-to-text-with-past``. The reference token ids come from transformers'
``generate`` (greedy and beam search) on the bundled sample images and simple variants of them.

It is a random model: its captions are word salad. It exists to check the ONNX runtime in
``face_perception.core.scene.captioner`` token for token against transformers.

    python3 scripts/build_caption_fixture.py

The first run creates a throwaway venv (transformers, optimum, torch; never project dependencies) under /tmp
and runs itself again inside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "test" / "data" / "captioner_tiny"
REFERENCE_NAME = "reference.json"
VENV = Path(os.environ.get("CAPTION_FIXTURE_VENV", "/tmp/face_perception_caption_venv"))
REQUIREMENTS = [
    "torch==2.13.0",
    "transformers==4.57.6",
    # optimum's ONNX exporter for torch >= 2.9 lives in optimum-onnx (optimum 1.x cannot use torch 2.13)
    "optimum==2.1.0",
    "optimum-onnx==0.1.0",
    "tokenizers==0.22.2",
    "onnxruntime==1.32.0",
    "opencv-python-headless==5.0.0.93",
    # transformers resizes with Pillow; Pillow 12 always runs its horizontal pass first, as the runtime does
    "pillow==12.3.0",
]
SEED = 1234
IMAGE_SIZE = 32
MAX_LENGTH = 20
EOS_GAIN = 3.0
BEAM_SIZES = (1, 3)
SAMPLES = ("astronaut.jpg", "rocket.jpg")
EOS = "<|endoftext|>"
TRAINING_SENTENCES = [
    "a man in a space suit standing in front of a flag",
    "a rocket is launching into the blue sky",
    "a person is lying on the floor of a kitchen",
    "a woman sitting on a couch with a cat",
    "a man holding a knife in a kitchen",
    "smoke and flames coming out of a house on fire",
    "a dog running on the grass in a park",
    "two people walking down a street at night",
    "an old man fallen on the ground next to a chair",
    "a child playing with a ball in the living room",
]


def ensure_venv() -> None:
    """Create the throwaway venv when needed and run this script inside it."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not (VENV / "bin" / "python").is_file():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    os.execv(str(VENV / "bin" / "python"), [str(VENV / "bin" / "python"), str(Path(__file__).resolve())])


def variants(image_bgr):  # noqa: ANN001, ANN201 - numpy is only imported inside the venv
    """The images the references are made on: each sample whole, its left half, and mirrored.

    test/unit/test_captioner.py makes the same variants from the same files.
    """
    height, width = image_bgr.shape[:2]
    return {
        "full": image_bgr,
        "left_half": image_bgr[:, : width // 2],
        "mirrored": image_bgr[:, ::-1],
    }


def build_tokenizer(folder: Path):  # noqa: ANN201
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import GPT2TokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(TRAINING_SENTENCES, trainer=trainer)
    raw_path = folder / "raw_tokenizer.json"
    tokenizer.save(str(raw_path))
    wrapped = GPT2TokenizerFast(tokenizer_file=str(raw_path), bos_token=EOS, eos_token=EOS, unk_token=EOS)
    wrapped.pad_token = EOS
    raw_path.unlink()
    return wrapped


def main() -> int:
    ensure_venv()
    import cv2
    import numpy as np
    import torch
    from optimum.exporters.onnx import main_export
    from PIL import Image
    from transformers import (
        GenerationConfig,
        GPT2Config,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    torch.manual_seed(SEED)
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = Path(scratch) / "model"
        model_dir.mkdir()
        tokenizer = build_tokenizer(model_dir)
        eos_id = tokenizer.convert_tokens_to_ids(EOS)
        encoder = ViTConfig(
            image_size=IMAGE_SIZE, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
            num_attention_heads=2, intermediate_size=64, initializer_range=0.5,
        )
        decoder = GPT2Config(
            vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2, n_inner=64,
            bos_token_id=eos_id, eos_token_id=eos_id, add_cross_attention=True, initializer_range=0.5,
        )
        config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
        config.decoder_start_token_id = eos_id
        config.pad_token_id = eos_id
        config.eos_token_id = eos_id
        model = VisionEncoderDecoderModel(config).eval()
        with torch.no_grad():  # make the end token likely enough that some captions end before max_length
            model.decoder.get_output_embeddings().weight[eos_id] *= EOS_GAIN
        model.generation_config = GenerationConfig(
            decoder_start_token_id=eos_id, bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id,
            max_length=MAX_LENGTH,
        )
        processor = ViTImageProcessor(
            do_resize=True, size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, resample=Image.BILINEAR,
            do_rescale=True, rescale_factor=1 / 255, do_normalize=True, image_mean=[0.5, 0.5, 0.5],
            image_std=[0.5, 0.5, 0.5],
        )
        model.save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
        processor.save_pretrained(model_dir)

        export_dir = Path(scratch) / "onnx"
        main_export(
            str(model_dir), output=str(export_dir), task="image-to-text-with-past", device="cpu", do_validation=False
        )
        if OUT_DIR.exists():
            shutil.rmtree(OUT_DIR)
        OUT_DIR.mkdir(parents=True)
        for path in sorted(export_dir.iterdir()):
            shutil.copy2(path, OUT_DIR / path.name)

        references = []
        for sample in SAMPLES:
            image = cv2.imread(str(ROOT / "face_perception" / "data" / "samples" / sample), cv2.IMREAD_COLOR)
            for variant, bgr in variants(image).items():
                rgb = np.ascontiguousarray(bgr[:, :, ::-1])
                pixel_values = processor(images=Image.fromarray(rgb), return_tensors="pt")["pixel_values"]
                entry = {"image": sample, "variant": variant, "sequences": {}}
                for beams in BEAM_SIZES:
                    with torch.no_grad():
                        out = model.generate(pixel_values, num_beams=beams, max_length=MAX_LENGTH, do_sample=False)
                    ids = out[0].tolist()
                    entry["sequences"][str(beams)] = ids
                    entry.setdefault("text", {})[str(beams)] = tokenizer.decode(ids, skip_special_tokens=True)
                entry["pixel_mean"] = float(pixel_values.mean())
                entry["pixel_checksum"] = float(pixel_values.abs().sum())
                references.append(entry)
        reference = {
            "generator": "transformers VisionEncoderDecoderModel.generate",
            "transformers": __import__("transformers").__version__,
            "torch": torch.__version__,
            "optimum": __import__("optimum.version", fromlist=["__version__"]).__version__,
            "seed": SEED,
            "max_length": MAX_LENGTH,
            "decoder_start_token_id": eos_id,
            "eos_token_id": eos_id,
            "images": references,
        }
        (OUT_DIR / REFERENCE_NAME).write_text(json.dumps(reference, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT_DIR.iterdir())
    for path in sorted(OUT_DIR.iterdir()):
        print(f"{path.stat().st_size:>9}  {path.relative_to(ROOT)}")
    print(f"{total:>9}  total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
