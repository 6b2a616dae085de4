"""The record's JSON form, prompt text captured or hashed, reading a log with bad lines, and
the ``request_log:`` and policy ``log:`` config, validated at file:line."""

from __future__ import annotations

import textwrap
from dataclasses import fields
from pathlib import Path

import pytest

from router.config.load import load_config
from router.config.yamlsrc import ConfigError
from router.policy.classify import Features
from router.requestlog.read import open_log
from router.requestlog.record import AS_CLASSIFIED, LoggedFeatures, RecordError, decode, encode
from router.requestlog.text import answer_of, digest, prompt_text, streamed_text, user_of
from router.wire import ChatRequest
from support.request_records import record

MODELS = """\
models:
  small:
    deployments: [{provider: openai, model: small, base_url: "http://127.0.0.1:9/v1"}]
    pricing: {input_per_mtok: 0.1, output_per_mtok: 0.4}
    quality: {general: 0.7, code: 0.7, reasoning: 0.6}
  big:
    deployments: [{provider: openai, model: big, base_url: "http://127.0.0.1:9/v1"}]
    pricing: {input_per_mtok: 2.5, output_per_mtok: 10}
    quality: {general: 0.9, code: 0.9, reasoning: 0.9}
policies:
  main:
    default: true
    log: {capture: prompts}
    rules:
      - {name: all, candidates: [small]}
"""


def test_every_logged_feature_is_copied_as_classified_or_converted() -> None:
    # A field added to LoggedFeatures is either copied from Features by name (AS_CLASSIFIED)
    # or converted by hand in trail._features and replay._prepare: not silently left default.
    logged = {f.name for f in fields(LoggedFeatures)}
    assert logged == set(AS_CLASSIFIED) | {"difficulty", "difficulty_per_cost", "demands"}
    assert set(AS_CLASSIFIED) <= {f.name for f in fields(Features)}


def test_a_record_survives_its_json_line_and_a_bad_line_says_where() -> None:
    original = record(7, headers={"x-router-objective": "cost"}, difficulty=0.25)
    line = encode(original)
    assert b"\n" not in line
    assert decode(line) == original
    with pytest.raises(RecordError, match="status"):
        decode(line.replace(b'"status":200', b'"status":"ok"'))
    with pytest.raises(RecordError, match="format 2"):
        decode(line.replace(b'"v":1', b'"v":2'))


def test_reading_skips_lines_that_are_not_records_and_reports_them(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    good = [encode(record(n)) for n in range(3)]
    path.write_bytes(good[0] + b"\n{not json\n" + good[1] + b"\n\n" + good[2][:20] + b"\n")
    source = open_log(str(path))
    assert source.total == 5
    assert [r.request_id for r in source] == ["req-0", "req-1"]
    assert source.skipped.count == 2
    assert source.skipped.examples[0].startswith(f"{path}:2: ")


def test_prompts_are_hashed_unless_captured_and_the_hash_is_the_same_either_way() -> None:
    chat = ChatRequest.model_validate(
        {
            "model": "auto",
            "user": "alice@example.com",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"},
                                             {"type": "image_url", "image_url": {"url": "x"}}]},
            ],
        }
    )  # fmt: skip
    hashed, captured = prompt_text(chat, capture=False), prompt_text(chat, capture=True)
    assert hashed.messages is None
    assert hashed.sha256 == captured.sha256
    assert hashed.sha256.startswith("sha256:")
    assert len(hashed.sha256) == 7 + 64
    assert captured.messages is not None
    assert [(m.role, m.text) for m in captured.messages] == [
        ("system", "Be brief."),
        ("user", "What is 2+2?"),  # the image is not logged
    ]
    other = chat.model_copy(update={"messages": chat.messages[1:]})
    assert prompt_text(other, capture=False).sha256 != hashed.sha256
    assert user_of(chat, capture=True) == "alice@example.com"
    assert user_of(chat, capture=False) == digest("alice@example.com")
    assert "alice" not in (user_of(chat, capture=False) or "")
    answer = answer_of("4", capture=False)
    assert answer.text is None
    assert answer.sha256 == answer_of("4", capture=True).sha256
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "fo"}}]},
        {"choices": [{"index": 1, "delta": {"content": "other choice"}}]},
        {"choices": [{"index": 0, "delta": {"content": "ur"}}]},
        {"choices": [], "usage": {"prompt_tokens": 3}},
    ]
    assert streamed_text(chunks) == "four"


def _load(tmp_path: Path, text: str) -> ConfigError:
    (tmp_path / "c.yaml").write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    return caught.value


def test_request_log_config_is_off_without_a_section_and_read_with_one(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(MODELS)
    config = load_config(tmp_path)
    assert config.request_log is None
    assert config.policies.policies["main"].capture_prompts
    (tmp_path / "log.yaml").write_text(
        "request_log: {sink: redis, stream_key: 'rl:x', maxlen: 5000, queue_size: 10}\n"
    )
    spec = load_config(tmp_path).request_log
    assert spec is not None
    assert (spec.sink, spec.stream_key, spec.maxlen, spec.queue_size) == ("redis", "rl:x", 5000, 10)


@pytest.mark.parametrize(
    ("section", "at", "message"),
    [
        ("request_log: {sink: jsonl}\n", None, "sink 'jsonl' needs a 'path'"),
        ("request_log: {sink: redis, path: x.jsonl}\n", "path", "path: only for sink 'jsonl'"),
        ("request_log:\n  sink: jsonl\n  path: a\n  maxlen: 9000\n", "maxlen",
         "maxlen: only for sink 'redis'"),
        ("request_log: {sink: files, path: a}\n", "sink", "sink: Input should be 'jsonl'"),
        ("request_log: {sink: jsonl, path: a, rotate_bytes: 10}\n", "rotate_bytes",
         "rotate_bytes: Input should be greater than or equal to 4096"),
        ("request_log: {sink: jsonl, path: a, queue: 10}\n", "queue", "unknown key 'queue'"),
        ("request_log: {sink: redis, redis_url: 'http://x'}\n", "redis_url",
         "redis_url: must start with redis://"),
        ("request_logs: {sink: redis}\n", None, "unknown section 'request_logs'"),
    ],
)  # fmt: skip
def test_request_log_config_errors_name_their_place(
    tmp_path: Path, section: str, at: str | None, message: str
) -> None:
    text = MODELS + section
    error = str(_load(tmp_path, text))
    assert message in error
    lines = text.splitlines()
    first = len(MODELS.splitlines())
    line = next(i for i, ln in enumerate(lines) if i >= first and (at or "request_log") in ln)
    column = lines[line].index(f"{at}:") + 1 if at else 1
    assert f"c.yaml:{line + 1}:{column}: {message}" in error


def test_a_policy_capture_setting_is_validated_at_its_place(tmp_path: Path) -> None:
    text = MODELS.replace("log: {capture: prompts}", "log: {capture: everything}")
    error = _load(tmp_path, text)
    line = text.splitlines().index("    log: {capture: everything}") + 1
    assert f"c.yaml:{line}:" in str(error)
    assert "log.capture: Input should be 'hash' or 'prompts'" in str(error)
