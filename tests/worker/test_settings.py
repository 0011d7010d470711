"""ocr_worker.settings: every setting checked before a command starts, and listed by --help."""

import dataclasses
import subprocess
import sys

import pytest
from ocr_worker import settings
from ocr_worker.cli import model_cache
from ocr_worker.exits import ConfigError
from ocr_worker.models import TIERS, ModelLock, tier_lock_path
from ocr_worker.settings import SETTINGS, load

from constructs_lib import model_source


def test_defaults_load_for_every_command_but_the_worker():
    for command in ("warm", "verify", "lock", "health", "serve"):
        config = load(command, {})
        assert isinstance(config, settings.COMMANDS[command])
        assert {s.name for s in SETTINGS if command in settings.commands_of(s)} == {
            settings.BY_FIELD[f.name].name for f in dataclasses.fields(config)}
    serve = load("serve", {})
    assert (serve.port, serve.host, serve.max_pages) == (8080, "0.0.0.0", 3000)


def test_settings_are_frozen_and_every_field_has_one_row_in_the_table():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load("serve", {}).port = 1  # type: ignore[misc]
    assert len({s.field for s in SETTINGS}) == len({s.name for s in SETTINGS}) == len(SETTINGS)
    used = {f.name for cls in settings.COMMANDS.values() for f in dataclasses.fields(cls)}
    assert used == set(settings.BY_FIELD), "a setting no command reads, or a field with no setting"


def test_the_worker_needs_its_queue_and_bucket():
    with pytest.raises(ConfigError, match="^OCR_QUEUE_URL is not set$"):
        load("worker", {})
    config = load("worker", {"OCR_QUEUE_URL": "https://sqs/q", "OCR_OUTPUT_BUCKET": "b"})
    assert config.dlq_url is None and config.visibility_timeout == 120


@pytest.mark.parametrize("command,name,value,message", [
    ("serve", "OCR_PORT", "abc", "OCR_PORT: 'abc' is not an integer"),
    ("serve", "OCR_PORT", "70000", "OCR_PORT: 70000 must be at most 65535"),
    ("serve", "OCR_MAX_WAITING", "0", "OCR_MAX_WAITING: 0 must be at least 1"),
    ("serve", "OCR_MAX_PAGES", "-3", "OCR_MAX_PAGES: -3 must be at least 1"),
    ("worker", "OCR_WAIT_SECONDS", "30", "OCR_WAIT_SECONDS: 30 must be at most 20"),
    ("worker", "OCR_STOP_SECONDS", "300", "OCR_STOP_SECONDS: 300 must be at most 120"),
    ("worker", "OCR_VISIBILITY_TIMEOUT", "50000", "OCR_VISIBILITY_TIMEOUT: 50000 must be at most 43200"),
    ("warm", "OCR_MODEL_SOURCE", "ftp://x", "OCR_MODEL_SOURCE: 'ftp://x' must be official, s3://"),
    ("health", "LOG_LEVEL", "LOUD", "LOG_LEVEL: 'LOUD' must be one of DEBUG | INFO | WARNING | ERROR"),
    ("warm", "OCR_MODEL_TIER", "large", "OCR_MODEL_TIER: 'large' must be one of tiny | small | medium | v5"),
    ("serve", "OCR_BACKEND", "openvino", "OCR_BACKEND: 'openvino' must be one of paddle | onnxruntime"),
])
def test_a_bad_value_is_one_line_naming_the_setting(command, name, value, message):
    environ = {"OCR_QUEUE_URL": "https://sqs/q", "OCR_OUTPUT_BUCKET": "b", name: value}
    with pytest.raises(ConfigError) as error:
        load(command, environ)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_setting_another_command_reads_is_not_checked():
    assert load("warm", {"OCR_PORT": "abc"}).lock_timeout == 900


def test_help_lists_every_setting_with_its_default():
    result = subprocess.run([sys.executable, "-m", "ocr_worker", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    for setting in SETTINGS:
        assert setting.name in result.stdout
    assert "OCR_QUEUE_URL" in settings.help_text() and "required" in settings.help_text()


def test_bad_log_level_is_a_config_error_not_a_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ocr_worker", "health"], capture_output=True, text=True,
                            timeout=60, env={"PATH": "/usr/bin:/bin", "LOG_LEVEL": "LOUD",
                                             "OCR_HEARTBEAT_FILE": str(tmp_path / "beat")})
    assert result.returncode == 2
    [line] = (result.stdout + result.stderr).strip().splitlines()
    assert "config error: LOG_LEVEL: 'LOUD'" in line


def test_the_readme_lists_every_setting_with_its_default():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for setting in SETTINGS:
        default = "required" if setting.default is None else (f"`{setting.default}`" if setting.default else "unset")
        assert f"| `{setting.name}` | {default} |" in readme, setting.name


def test_every_tier_is_one_the_image_pins():
    """constructs_lib cannot import the image's package: its list of tiers is checked here."""
    assert model_source.TIERS == TIERS
    for tier in TIERS:
        lock = ModelLock.load(tier_lock_path(tier))
        roles = [m.role for m in lock.models]
        assert roles[0] == "doc_orientation" and {"text_detection", "text_recognition"} <= set(roles)
        assert {m.format for m in lock.models} == {"onnx"}


def test_a_tier_or_a_lock_of_ones_own_never_both():
    with pytest.raises(ConfigError, match="^OCR_MODEL_TIER and OCR_MODEL_LOCK are both set: a tier is a lock; set one$"):
        load("warm", {"OCR_MODEL_TIER": "small", "OCR_MODEL_LOCK": "/etc/my.lock.json"})


@pytest.mark.parametrize("tier", [*TIERS, None])
def test_each_tier_selects_its_lock_and_onnx_runtime(tier):
    cache = model_cache(load("warm", {"OCR_MODEL_TIER": tier} if tier else {}))
    assert cache.lock == ModelLock.load(tier_lock_path(tier or "tiny")) and cache.backend == "onnxruntime"

