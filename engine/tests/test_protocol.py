"""The Python half of the protocol contract: emitter output equals the shared event fixtures; the request dataclasses
match the TypeScript request schemas (names and types) and parse the shared request fixtures; a bad request is refused
naming its key."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import os
import subprocess
import sys
import types
import typing
from pathlib import Path

import pytest
from lora_scripts_engine import protocol, request
from lora_scripts_engine.request import REQUEST_TYPES, parse_request

REPO = Path(__file__).resolve().parents[2]
FIXTURES = sorted((REPO / "tests" / "fixtures" / "protocol").glob("*.jsonl"))
REQUESTS = REPO / "tests" / "fixtures" / "protocol" / "requests"


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_emit_writes_the_fixture_lines_byte_for_byte(fixture):
    channel = io.StringIO()
    protocol.set_channel(channel)
    try:
        lines = [line for line in fixture.read_text().splitlines() if line]
        for line in lines:
            fields = json.loads(line)
            protocol.emit(fields.pop("type"), **fields)
    finally:
        protocol.set_channel(__import__("sys").stdout)
    assert channel.getvalue().splitlines() == lines


@pytest.fixture(scope="module")
def request_json_schemas() -> dict:
    """The TypeScript request schemas as JSON Schema, from the built CLI (dist/)."""
    script = f"const m = await import({json.dumps(str(REPO / 'dist' / 'engine' / 'index.js'))}); process.stdout.write(JSON.stringify(m.engineRequestJsonSchemas()))"
    return json.loads(
        subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True).stdout
    )


def schema_shape(node: dict) -> typing.Any:
    """A JSON Schema reduced to its types: "integer", ["list", x], {"key": x}, sorted unions."""
    if "anyOf" in node:
        return union([schema_shape(option) for option in node["anyOf"]])
    if "const" in node:
        return {bool: "boolean", int: "integer", float: "number", str: "string"}[type(node["const"])]
    kind = node.get("type")
    if isinstance(kind, list):
        return union([schema_shape({**node, "type": k}) for k in kind])
    if kind == "array":
        if "prefixItems" in node:
            return ["tuple", *[schema_shape(item) for item in node["prefixItems"]]]
        return ["list", schema_shape(node["items"])]
    if kind == "object":
        if "properties" not in node:
            return ["dict", schema_shape(node["additionalProperties"])]
        assert node["required"] == list(node["properties"]) and node["additionalProperties"] is False
        return {key: schema_shape(value) for key, value in node["properties"].items()}
    return kind or "any"


def hint_shape(hint: typing.Any) -> typing.Any:
    """A dataclass field's type hint reduced the same way."""
    if dataclasses.is_dataclass(hint):
        return {name: hint_shape(kind) for name, kind in typing.get_type_hints(hint).items()}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return union([hint_shape(arg) for arg in args])
    if origin is list:
        return ["list", hint_shape(args[0])]
    if origin is tuple:
        return ["tuple", *[hint_shape(arg) for arg in args]]
    if origin is dict:
        return ["dict", hint_shape(args[1])]
    return {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null", typing.Any: "any"}[
        hint
    ]


def union(shapes: list) -> typing.Any:
    return {"anyOf": sorted(json.dumps(s, sort_keys=True) for s in shapes)}


@pytest.mark.parametrize("command", sorted(REQUEST_TYPES))
def test_request_dataclass_names_and_types_match_the_typescript_schema(request_json_schemas, command):
    """When this fails after a new config key: add the field to `TrainConfig` (request.py), no default."""
    assert hint_shape(REQUEST_TYPES[command]) == schema_shape(request_json_schemas[command])


def test_train_config_fields_follow_the_config_schema_order():
    schema = json.loads(
        subprocess.run(
            ["node", str(REPO / "bin" / "lora-scripts.mjs"), "config", "schema"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert [f.name for f in dataclasses.fields(request.TrainConfig)] == list(schema["properties"])


def test_no_request_field_has_a_default():
    """Defaults live in src/config/schema.ts alone: the engine is sent every value."""
    classes = [cls for cls in vars(request).values() if dataclasses.is_dataclass(cls)]
    assert len(classes) >= 15
    with_default = [
        f"{cls.__name__}.{f.name}"
        for cls in classes
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    ]
    assert with_default == []


def fixture_request(command: str) -> dict:
    return json.loads((REQUESTS / f"{command}.json").read_text())


@pytest.mark.parametrize("command", sorted(REQUEST_TYPES))
def test_each_shared_request_fixture_parses_into_its_typed_request(command):
    parsed = parse_request(json.dumps(fixture_request(command)))
    assert type(parsed) is REQUEST_TYPES[command]
    assert json.loads(json.dumps(dataclasses.asdict(parsed))) == fixture_request(command)  # nothing dropped or renamed


def test_parsed_values_have_their_declared_types():
    train = parse_request(json.dumps(fixture_request("train")))
    assert isinstance(train.config.lora_alpha, float) and train.config.lora_alpha == 32.0  # JSON `32` for a float field
    assert isinstance(train.options.targets[0], request.TargetEntry) and train.options.targets[0].unet
    generate = parse_request(json.dumps(fixture_request("generate")))
    assert generate.options.batches[1].prompt_segments == [("a ", 1.0), ("canal town", 1.3), (" at dusk", 1.0)]
    assert generate.options.batches[0].scheduler.config == {"use_karras_sigmas": True, "algorithm_type": "dpmsolver++"}


def with_change(command: str, path: list, value) -> str:
    """The fixture with one key set (`DELETE` removes it), as a request line."""
    raw = copy.deepcopy(fixture_request(command))
    node = raw
    for part in path[:-1]:
        node = node[part]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return json.dumps(raw)


DELETE = object()


@pytest.mark.parametrize(
    ("command", "path", "value", "message"),
    [
        ("train", ["config", "lora_rnak"], 16, "`config.lora_rnak` is not a field of this request"),
        ("train", ["config", "seed"], DELETE, "`config.seed` is missing"),
        ("train", ["config", "seed"], "abc", '`config.seed` must be an integer, got "abc"'),
        ("train", ["config", "seed"], True, "`config.seed` must be an integer, got true"),
        ("train", ["config", "resolution"], "512", '`config.resolution` must be an integer or null, got "512"'),
        ("train", ["config", "sample_prompts"], "a bridge", '`config.sample_prompts` must be a list, got "a bridge"'),
        ("train", ["options", "targets", 0, "unet"], [3], "`options.targets[0].unet[0]` must be a string, got 3"),
        ("train", ["options", "state_fingerprint"], None, "`options.state_fingerprint` must be an object, got null"),
        (
            "generate",
            ["options", "batches", 1, "prompt_segments", 0],
            ["a "],
            '`options.batches[1].prompt_segments[0]` must be a list of 2 items, got ["a "]',
        ),
        ("caption", ["options", "threshold"], "high", '`options.threshold` must be a number, got "high"'),
        ("make-checkpoint", ["options", "seed"], DELETE, "`options.seed` is missing"),
        ("doctor", ["options"], {}, "`options` is not a field of this request"),
    ],
)
def test_a_bad_request_is_refused_naming_the_key(command, path, value, message):
    with pytest.raises(protocol.EngineFailure) as failure:
        parse_request(with_change(command, path, value))
    assert (failure.value.code, failure.value.message) == ("bad_request", message)
    assert failure.value.culprit == message.split("`")[1]
    assert "lora-scripts setup" in failure.value.hint


def test_the_engine_process_refuses_a_bad_request_with_one_error_event_and_nothing_else():
    env = {**os.environ, "PYTHONPATH": str(REPO / "engine")}
    line = with_change("caption", ["options", "batch_size"], 2.5)
    result = subprocess.run(
        [sys.executable, "-m", "lora_scripts_engine"],
        input=line + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    events = [json.loads(event) for event in result.stdout.splitlines()]
    assert result.returncode == 1
    assert events == [
        {
            "type": "error",
            "code": "bad_request",
            "message": "`options.batch_size` must be an integer, got 2.5",
            "culprit": "options.batch_size",
            "hint": request.SETUP_HINT,
        }
    ]


def test_request_with_another_protocol_version_fails_with_a_setup_hint():
    for line in ('{"protocol": 1, "command": "train", "config": {}}', '{"protocol": 99, "command": "doctor"}'):
        with pytest.raises(protocol.EngineFailure) as failure:
            parse_request(line)
        assert failure.value.code == "protocol_mismatch"
        assert "lora-scripts setup" in failure.value.hint


def test_an_unknown_command_or_non_json_is_refused():
    with pytest.raises(protocol.EngineFailure) as failure:
        parse_request('{"protocol": 2, "command": "train-faster"}')
    assert (failure.value.code, failure.value.culprit) == ("unknown_command", "command")
    with pytest.raises(protocol.EngineFailure) as failure:
        parse_request("train please")
    assert failure.value.code == "bad_request"


def test_hello_and_the_training_run_use_one_compute_choice(tmp_path, monkeypatch):
    """`pick_compute` may probe the CPU and answer differently each time: __main__ asks once, and `hello` and the
    run's own report (the `fast_paths` stage line) name the same dtype."""
    import torch
    from lora_scripts_engine import __main__ as engine_main
    from lora_scripts_engine import device
    from lora_scripts_engine.tiny_models import write_checkpoint
    from PIL import Image

    answers = iter(
        [device.Compute("cpu", torch.float32, "first answer"), device.Compute("cpu", torch.bfloat16, "second answer")]
    )
    calls = []
    monkeypatch.setattr(device, "pick_compute", lambda *args: calls.append(args) or next(answers))
    monkeypatch.setattr(
        device, "pick_cpu_compute", lambda *args: pytest.fail("a second compute choice, past the patched one")
    )
    Image.new("RGB", (64, 64), (200, 30, 30)).save(tmp_path / "red.png")
    (tmp_path / "manifest.jsonl").write_text(
        json.dumps({"image": str(tmp_path / "red.png"), "caption": "red", "repeats": 1}) + "\n"
    )
    raw = fixture_request("train")
    raw["config"] |= {
        "base_model": str(write_checkpoint("sd1", tmp_path / "tiny.safetensors")),
        "output_dir": str(tmp_path / "out"),
        "resolution": 64,
        "batch_size": 1,
        "max_train_steps": 1,
        "sample_prompts": [],
        "save_steps": 0,
        "save_state_limit": 0,
    }
    raw["manifest"] = str(tmp_path / "manifest.jsonl")
    channel = io.StringIO()
    protocol.set_channel(channel)
    try:
        engine_main.run(parse_request(json.dumps(raw)))
    finally:
        protocol.set_channel(sys.stdout)
    events = [json.loads(line) for line in channel.getvalue().splitlines()]
    hello = next(e for e in events if e["type"] == "hello")
    fast_paths = next(e for e in events if e["type"] == "stage" and e["name"] == "fast_paths")
    assert calls == [("auto", raw["config"]["base_model"])]
    assert (hello["dtype"], hello["dtype_reason"]) == ("float32", "first answer")
    assert fast_paths["message"].startswith("cpu float32,")
    assert events[-1]["type"] == "done" and events[-1]["steps"] == 1
