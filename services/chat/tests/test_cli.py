"""The CLI: a bad setting is named, not a traceback."""

from __future__ import annotations

import json
import logging

from typer.testing import CliRunner

from sharedllm_chat.cli import app
from sharedllm_chat.log_format import JsonFormatter


def test_serve_names_the_bad_setting():
    result = CliRunner().invoke(app, ["serve", "--model-path", "a", "--base-model", "b"])
    assert result.exit_code == 2
    assert "model_path" in result.output and "not both" in result.output
    result = CliRunner().invoke(app, ["serve", "--port", "not-a-port"])
    assert result.exit_code == 2 and "port" in result.output.lower()


def test_json_log_lines_carry_extra_fields():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "chat completion", None, None)
    record.conversation_id, record.ttft_s = "c1", 0.25
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "chat completion" and line["conversation_id"] == "c1" and line["ttft_s"] == 0.25
