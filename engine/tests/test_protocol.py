"""The Python half of the protocol contract: emitter output equals the shared fixtures; the request matches the schema."""
from __future__ import annotations

import dataclasses
import io
import json
import subprocess
from pathlib import Path

import pytest

from lora_scripts_engine import protocol
from lora_scripts_engine.train import TrainRequest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = sorted((REPO / "tests" / "fixtures" / "protocol").glob("*.jsonl"))


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


def test_train_request_fields_match_the_config_json_schema():
    schema = json.loads(subprocess.run(["node", str(REPO / "bin" / "lora-scripts.mjs"), "config", "schema"], capture_output=True, text=True, check=True).stdout)
    assert [f.name for f in dataclasses.fields(TrainRequest)] == list(schema["properties"])


def test_request_with_another_protocol_version_fails_with_a_setup_hint():
    with pytest.raises(protocol.EngineFailure) as failure:
        protocol.Request.parse('{"protocol": 99, "command": "train"}')
    assert failure.value.code == "protocol_mismatch"
    assert "lora-scripts setup" in failure.value.hint
