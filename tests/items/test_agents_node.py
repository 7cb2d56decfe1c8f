"""The npm ``@openai/agents`` session class (``OpenAIConversationsSession``) works against a
live convstore as the Python one does: ``tests/node/session.mjs`` (installed by ``make test``
with ``npm ci --prefix tests/node``) drives lazy start, add/get/limit/pop/clear and two
``Runner.run`` turns with an offline scripted model, and prints what the model was given."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


def test_the_npm_session_class_replays_the_stored_history(live_server, api_key):
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "@openai" / "agents").is_dir():
        pytest.fail("Node and tests/node/node_modules are needed: npm ci --prefix tests/node")
    env = {
        **os.environ,
        "CONVSTORE_BASE_URL": f"{live_server.url}/openai/v1",
        "KEY": api_key,
    }
    done = subprocess.run(
        [node, "session.mjs"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["conversationId"].startswith("conv_")
    replayed = result["replayed"]
    assert [i["type"] for i in replayed] == [
        "message",
        "reasoning",
        "function_call",
        "function_call_result",
        "message",
        "message",
    ]
    reasoning, call, output = replayed[1], replayed[2], replayed[3]
    assert reasoning["id"] == "rs_68af4030592c819d8b2bc4e9c6fa6e2c0f2b4e0b0e6d3a7f"
    assert reasoning["content"][0]["text"] == "Look up the weather."
    assert call["id"].startswith("fc_") and call["callId"] == "call_weather_1"
    assert (output["callId"], output["output"]) == ("call_weather_1", "18C in Paris")
    assert replayed[4]["content"][0]["text"] == "It is 18C in Paris."
    prefixes = {"message": "msg_", "reasoning": "rs_", "function_call": "fc_"}
    stored = result["stored"]
    assert [i["type"] for i in stored] == [
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
        "message",
        "message",
        "message",
    ]
    for item in stored:
        assert item["id"].startswith(prefixes.get(item["type"], "fco_")), item
