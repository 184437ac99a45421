"""`caption`: tiny random-weight BLIP, Florence-2 and WD14 models built here, loaded by the real code path."""

from __future__ import annotations

import io
import json
import os
import string
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from lora_scripts_engine import protocol
from lora_scripts_engine.__main__ import guard_offline, online_model
from lora_scripts_engine.caption import caption_images, select_tags, tag_text, wd14_pixels
from lora_scripts_engine.device import pick_compute
from lora_scripts_engine.protocol import PROTOCOL_VERSION
from lora_scripts_engine.request import CaptionOptions, parse_request
from PIL import Image
from tiny_captioners import WORDS, build_blip, build_florence2, build_wd14


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    # Black is square: the tagger pads to a white square, which would lighten a wide black image.
    colours = {
        "red.png": ((64, 48), (200, 30, 30)),
        "black.png": ((48, 48), (0, 0, 0)),
        "white.png": ((96, 48), (250, 250, 250)),
    }
    paths = []
    for name, (size, colour) in colours.items():
        Image.new("RGB", size, colour).save(folder / name)
        paths.append(str(folder / name))
    return paths


# The CLI's defaults (`lora-scripts auto-label --help`): the engine has none of its own.
CLI_OPTIONS = {"batch_size": 8, "task": "<DETAILED_CAPTION>", "threshold": 0.35, "max_new_tokens": 75}


def caption_request(model: str, images: list[str], **options) -> dict:
    return {
        "protocol": PROTOCOL_VERSION,
        "command": "caption",
        "options": {"model": model, "images": images, **CLI_OPTIONS, **options},
    }


def run_caption(**options) -> list[dict]:
    options = {**CLI_OPTIONS, **options}
    channel = io.StringIO()
    protocol.set_channel(channel)
    try:
        caption_images(CaptionOptions(**options), pick_compute("auto", None))
    finally:
        protocol.set_channel(__import__("sys").stdout)
    return [json.loads(line) for line in channel.getvalue().splitlines()]


def captions_of(events: list[dict]) -> dict[str, str]:
    return {event["image"]: event["caption"] for event in events if event["type"] == "caption"}


def test_blip_captions_each_image_with_its_own_words_whatever_the_batch(tmp_path, images):
    model = build_blip(tmp_path / "blip")
    events = run_caption(model=str(model), images=images, batch_size=2, max_new_tokens=6)
    assert [e["type"] for e in events] == ["stage", "caption", "caption", "caption", "done"]
    assert [(e["index"], e["total"]) for e in events[1:4]] == [(1, 3), (2, 3), (3, 3)]
    captions = captions_of(events)
    assert list(captions) == images
    for caption in captions.values():
        assert caption and set(caption.split()) <= set(WORDS), caption
    # Batching must not change a caption (padding or cross-image mixing would).
    assert captions_of(run_caption(model=str(model), images=images, batch_size=1, max_new_tokens=6)) == captions


def test_florence2_loads_through_the_native_class_and_answers_the_task(tmp_path, images):
    model = build_florence2(tmp_path / "florence2")
    events = run_caption(model=str(model), images=images[:2], batch_size=2, task="<CAPTION>", max_new_tokens=6)
    captions = captions_of(events)
    assert list(captions) == images[:2]
    for caption in captions.values():
        # Decoded from our vocabulary: printable ASCII, no special tokens or image placeholders left in.
        assert caption and set(caption) <= set(string.printable) and "<" not in caption, caption


def test_wd14_keeps_general_and_character_tags_above_their_thresholds_most_confident_first(tmp_path, images):
    model = build_wd14(tmp_path / "wd14")
    red, black, white = images
    captions = captions_of(run_caption(model=str(model), images=images, batch_size=2))
    assert captions[white] == "outdoors, hu tao (genshin impact), stone bridge, ^_^"
    assert captions[red] == captions[white]
    assert captions[black] == "outdoors, hu tao (genshin impact), dark background, stone bridge, ^_^"
    strict = captions_of(run_caption(model=str(model), images=[white], threshold=0.6))
    assert strict[white] == "outdoors, hu tao (genshin impact), stone bridge"


def test_wd14_input_is_a_white_padded_bgr_square_in_0_to_255():
    pixels = wd14_pixels(Image.new("RGB", (20, 10), (255, 0, 0)), 8)
    assert pixels.shape == (8, 8, 3) and pixels.dtype == np.float32
    assert pixels[0, 0].tolist() == [255, 255, 255]  # padding above the wide image
    assert pixels[4, 4].tolist() == [0, 0, 255]  # red, in BGR order


def test_tag_selection_rules():
    tags = [("general", 9), ("long_hair", 0), ("o_o", 0), ("some_character", 4), ("artist_name", 1)]
    assert select_tags(np.array([0.99, 0.4, 0.9, 0.8, 0.99]), tags, 0.35) == ["o_o", "long hair"]
    assert select_tags(np.array([0.99, 0.4, 0.9, 0.86, 0.99]), tags, 0.5) == ["o_o", "some character"]
    assert tag_text("hu_tao_(genshin_impact)") == "hu tao (genshin impact)" and tag_text("^_^") == "^_^"


def failure(model: str, **options) -> protocol.EngineFailure:
    with pytest.raises(protocol.EngineFailure) as raised:
        run_caption(model=model, images=[], **options)
    return raised.value


def test_bad_models_fail_with_one_clear_error(tmp_path):
    assert (failure(str(tmp_path / "missing")).code, failure(str(tmp_path / "missing")).message) == (
        "model_missing",
        "is not a model folder",
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    error = failure(str(empty))
    assert (error.code, error.culprit, error.message) == (
        "model_unrecognized",
        str(empty),
        "has no config.json and no *.onnx + selected_tags.csv",
    )
    (empty / "config.json").write_text('{"model_type": "clip"}')
    assert failure(str(empty)).message == "is a `clip` model; auto-label runs BLIP, Florence-2 and WD14 taggers"
    (empty / "config.json").write_text(
        '{"model_type": "florence2", "auto_map": {"AutoConfig": "configuration_florence2.Florence2Config"}}'
    )
    error = failure(str(empty))
    assert error.code == "model_remote_code" and "florence-community/Florence-2-base" in error.hint
    offline = failure("someone/some-captioner")  # conftest sets HF_HUB_OFFLINE=1
    assert (offline.code, offline.culprit) == ("model_offline", "someone/some-captioner")


def test_a_tag_list_that_does_not_match_the_model_is_named(tmp_path, images):
    model = build_wd14(tmp_path / "wd14")
    (model / "selected_tags.csv").write_text("tag_id,name,category,count\n1,outdoors,0,1\n")
    with pytest.raises(protocol.EngineFailure) as raised:
        run_caption(model=str(model), images=images[:1])
    assert raised.value.message == "outputs 8 scores but selected_tags.csv lists 1 tags"


@pytest.mark.parametrize(("model", "is_online"), [("Salesforce/blip-image-captioning-base", True), ("LOCAL", False)])
def test_only_a_hub_id_captioning_model_may_use_the_network(monkeypatch, tmp_path, model, is_online):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    spec = str(tmp_path) if model == "LOCAL" else model
    guard_offline(online_model(parse_request(json.dumps(caption_request(spec, [])))))
    assert ("HF_HUB_OFFLINE" not in os.environ) is is_online


def test_a_hub_id_already_in_the_cache_loads_without_network(tmp_path, images):
    """The real engine process, offline, with a tiny BLIP placed in a Hugging Face cache as a download would."""
    snapshot = tmp_path / "hub" / "models--someone--tiny-blip" / "snapshots" / ("0" * 40)
    build_blip(snapshot)
    (tmp_path / "hub" / "models--someone--tiny-blip" / "refs").mkdir()
    (tmp_path / "hub" / "models--someone--tiny-blip" / "refs" / "main").write_text("0" * 40)
    request = caption_request("someone/tiny-blip", images[:1], max_new_tokens=4)
    env = {
        **os.environ,
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(Path(__file__).parents[1]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "lora_scripts_engine"],
        input=json.dumps(request),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["type"] for e in events] == ["hello", "stage", "caption", "done"], result.stderr[-2000:]
    assert set(events[2]["caption"].split()) <= set(WORDS)
