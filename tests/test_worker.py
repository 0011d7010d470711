"""The ``worker`` section is checked at synth by the worker's own rules: one table
(image/ocr_worker/settings.py), written as data into constructs_lib/worker_settings.json."""

import json
import os
import typing
from dataclasses import fields
from pathlib import Path

import pytest
from ocr_worker.exits import ConfigError as WorkerConfigError
from ocr_worker.settings import BY_FIELD, rules

from constructs_lib.config import ConfigError
from constructs_lib.worker import OWNED, RULES, WorkerProps
from tests.synth import load_stack, settings, synth_app

JSON = Path(__file__).resolve().parent.parent / "constructs_lib" / "worker_settings.json"


def test_the_librarys_copy_is_the_workers_table():
    """``make golden`` writes it again after a change to the worker's settings."""
    if os.environ.get("UPDATE_GOLDEN"):
        JSON.write_text(json.dumps(rules(), indent=2, sort_keys=True) + "\n")
    assert RULES == rules(), "constructs_lib/worker_settings.json differs from ocr_worker.settings: run make golden"


def test_each_setting_is_either_tunable_or_owned_by_another_section():
    tunable = {f.name for f in fields(WorkerProps)}
    assert not tunable & set(OWNED)
    assert tunable <= set(RULES) and set(OWNED) <= set(BY_FIELD)
    for f in fields(WorkerProps):
        kind = typing.get_args(typing.get_type_hints(WorkerProps)[f.name])[0]
        assert (kind is int) == RULES[f.name]["integer"], f.name


def candidates(name):
    rule = RULES[name]
    if rule["integer"]:
        edges = [rule["minimum"], rule["maximum"]]
        return sorted({v + d for v in edges if v is not None for d in (-1, 0, 1)} | {0, 1, 10**9})
    return [*rule["choices"], *(c.lower() for c in rule["choices"]), "LOUD", ""]


@pytest.mark.parametrize("name", [f.name for f in fields(WorkerProps)])
def test_synth_refuses_exactly_what_the_worker_refuses(name):
    setting = BY_FIELD[name]
    for value in candidates(name):
        if value == "":
            continue  # unset: the worker's default
        try:
            setting.read({setting.name: str(value)})
            worker_ok = True
        except WorkerConfigError:
            worker_ok = False
        try:
            WorkerProps(**{name: value})
            synth_ok = True
        except ConfigError:
            synth_ok = False
        assert synth_ok == worker_ok, f"{name}={value!r}: synth {synth_ok}, worker {worker_ok}"


def test_the_settings_reach_both_containers(tmp_path):
    stacks = synth_app(tmp_path, settings(worker={"cpu_threads": 1, "log_level": "DEBUG"}))
    [task] = load_stack(stacks, "service")["resource"]["aws_ecs_task_definition"].values()
    for container in json.loads(task["container_definitions"]):
        env = {e["name"]: e["value"] for e in container["environment"]}
        assert (env["OCR_CPU_THREADS"], env["LOG_LEVEL"]) == ("1", "DEBUG"), container["name"]


@pytest.mark.parametrize("worker, message", [
    ({"cpu_threads": 65}, "worker.cpu_threads: 65 must be at most 64"),
    ({"pdf_dpi": 50}, "worker.pdf_dpi: 50 must be at least 72"),
    ({"log_level": "LOUD"}, "worker.log_level: 'LOUD' must be one of DEBUG | INFO | WARNING | ERROR"),
    ({"cpu_threads": "1"}, "worker.cpu_threads: must be an integer, got '1'"),
    ({"cpu_thread": 1}, "worker.cpu_thread: unknown key; did you mean worker.cpu_threads?"),
    ({"max_pages": 10}, "worker.max_pages: is set by documents.max_pages, not here"),
])
def test_a_bad_worker_setting_is_one_line_naming_it(worker, message):
    with pytest.raises(ConfigError) as raised:
        settings(worker=worker)
    assert str(raised.value) == message


def test_the_issues_environment_key_points_at_the_worker_section():
    with pytest.raises(ConfigError, match=r"service.environment: moved to the worker section \(worker.cpu_threads"):
        settings(service={"environment": {"OCR_CPU_THREADS": "1"}})
