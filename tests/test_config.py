"""The cdktf.json loader: JSON mapped onto the props types, every error one line naming the key."""

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from constructs_lib.config import ConfigError, Settings, load_settings, settings_from_dict
from constructs_lib.naming import Names
from constructs_lib.validation import Props

ROOT = Path(__file__).resolve().parent.parent


def test_cdktf_json_holds_only_project_and_region():
    context = json.loads((ROOT / "cdktf.json").read_text())["context"]["paddleocr_efs"]
    assert context == {"project": "sabuho", "region": "us-east-1"}
    s = load_settings(ROOT / "cdktf.json", env={})
    assert (s.project, s.region, s.backend.type) == ("sabuho", "us-east-1", "local")
    assert s.model_cache.name is None and s.service.family is None  # derived at synth, see test_naming


def test_override_file_merges_key_by_key(tmp_path):
    override = tmp_path / "prod.json"
    override.write_text(json.dumps({"region": "eu-west-1", "model_cache": {"uid": 2000}}))
    s = load_settings(ROOT / "cdktf.json", env={"PADDLEOCR_EFS_CONFIG": str(override)})
    assert s.region == "eu-west-1"
    assert s.model_cache.uid == 2000
    assert s.model_cache.gid == 1000  # untouched keys keep their value
    assert s.project == "sabuho"


MISPLACED = {
    # The two cases: each synthesized sabuho, us-east-1 and local state, in silence.
    "a typo of paddleocr_efs": ({"context": {"paddleocr-efs": {"project": "teamb"}}},
                                "context.paddleocr-efs: unknown key; did you mean context.paddleocr_efs?"),
    "a section one level too high": ({"context": {"paddleocr_efs": {"project": "teamb"},
                                                  "backend": {"type": "s3", "bucket": "state"}}},
                                     "context.backend: belongs inside context.paddleocr_efs "
                                     "(context.paddleocr_efs.backend)"),
    "a section at the top of the file": ({"service": {"cpu": 4096}, "context": {}},
                                         "service: belongs inside context.paddleocr_efs"),
    "a near miss": ({"context": {"paddleocr_ef": {}}}, "context.paddleocr_ef: unknown key; did you mean"),
}


@pytest.mark.parametrize("cdktf, message", MISPLACED.values(), ids=MISPLACED.keys())
def test_settings_outside_their_object_are_refused_not_ignored(tmp_path, cdktf, message):
    path = tmp_path / "cdktf.json"
    path.write_text(json.dumps({"language": "python", "app": "python main.py", **cdktf}))
    with pytest.raises(ConfigError) as error:
        load_settings(path, env={})
    assert message in str(error.value) and "\n" not in str(error.value)


def test_cdktfs_own_keys_and_other_context_pass(tmp_path):
    path = tmp_path / "cdktf.json"
    path.write_text(json.dumps({"language": "python", "app": "python main.py", "projectId": "x",
                                "context": {"excludeStackIdFromLogicalIds": "true", "paddleocr_efs": {}}}))
    assert load_settings(path, env={}).project == Settings().project


def test_settings_derive_names_from_the_project():
    assert settings_from_dict({"project": "teamb"}).names == Names("teamb")


def test_zones_are_looked_up_unless_pinned():
    # No literal "<region>a": zone letters differ per region (ap-northeast-1 has a, c and d).
    assert settings_from_dict({"region": "ap-northeast-1"}).network.availability_zones == []
    pinned = {"region": "ap-northeast-1", "network": {"availability_zones": ["ap-northeast-1a", "ap-northeast-1c"]}}
    assert settings_from_dict(pinned).network.availability_zones == ["ap-northeast-1a", "ap-northeast-1c"]


# The loader's own errors, and each section's rule reported under its JSON key. The rules
# themselves are tested beside their construct (tests/test_<module>.py).
BAD = {
    "zone from another region": ({"network": {"availability_zones": ["eu-west-1a", "eu-west-1b"]}},
                                 "network.availability_zones[0]: 'eu-west-1a' is not a zone of region 'us-east-1'"),
    "unknown key": ({"model_cache": {"uidd": 1}}, "model_cache.uidd: unknown key; did you mean model_cache.uid?"),
    "unknown top-level key": ({"regoin": "x"}, "regoin: unknown key; did you mean region?"),
    "unknown key, nothing close": ({"zzz": 1}, "zzz: unknown key (known: aws_endpoint, backend,"),
    "moved key": ({"service": {"max_tasks": 3}}, "service.max_tasks: moved to scaling.max_tasks"),
    "uid not an integer": ({"model_cache": {"uid": "1000"}}, "model_cache.uid: must be an integer, got '1000'"),
    "gid is a float": ({"model_cache": {"gid": 1000.5}}, "model_cache.gid: must be an integer, got 1000.5"),
    "uid is a bool": ({"model_cache": {"uid": True}}, "model_cache.uid: must be an integer"),
    "unknown backend": ({"backend": {"type": "consul"}}, "backend.type: must be one of 'local', 's3', 'cloud', got 'consul'"),
    "section not an object": ({"network": []}, "network: must be an object"),
    "list not a list": ({"network": {"availability_zones": "us-east-1a"}}, "network.availability_zones: must be a list"),
    "tag not a string": ({"tags": {"Team": 5}}, "tags.Team: must be a string, got 5"),
    "section rule under its key": ({"model_cache": {"uid": 0}}, "model_cache.uid: 0 must be a POSIX id"),
    "nested section rule": ({"service": {"cpu": 2048, "memory": 1024}},
                            "service.memory: 1024 MiB is not a Fargate memory value for cpu 2048"),
    "project upper case": ({"project": "TeamB"}, "project: 'TeamB' is not valid"),
    "project too long": ({"project": "a" * 23}, "project: 'aaaaaaaaaaaaaaaaaaaaaaa' must be 1-22 characters"),
    "bad region": ({"region": "us-east"}, "region: 'us-east' is not an AWS region name"),
    "aws tag prefix": ({"tags": {"aws:team": "x"}}, "tags.aws:team: the aws: prefix is reserved"),
    "too many tags": ({"tags": {f"t{i}": "x" for i in range(48)}}, "tags: 48 tags plus the 3 this project adds"),
    "endpoint not a URL": ({"aws_endpoint": "localhost:5000"}, "aws_endpoint: 'localhost:5000' must be a http"),
}


@pytest.mark.parametrize("raw,message", BAD.values(), ids=BAD.keys())
def test_bad_value_names_the_key(raw, message):
    with pytest.raises(ConfigError) as error:
        settings_from_dict(raw)
    text = str(error.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_settings_built_in_code_are_validated_too():
    with pytest.raises(ConfigError, match=r"^Settings.project: 'Team B' is not valid"):
        Settings(project="Team B")


def test_invalid_json_override_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"region": "eu-west-1",\n "oops"}')
    with pytest.raises(ConfigError, match=r"bad.json: invalid JSON at line 2"):
        load_settings(ROOT / "cdktf.json", env={"PADDLEOCR_EFS_CONFIG": str(bad)})


@pytest.mark.parametrize("make,message", [
    (lambda p: p.mkdir(), "is a directory, not a JSON file"),
    (lambda p: p.write_bytes(b'{"region": "eu-west-1", "tags": {"Team": "\xe9quipe"}}'), "is not UTF-8 text (byte 42)"),
    (lambda p: p.write_text('["eu-west-1"]'), "the override must be a JSON object"),
], ids=["directory", "latin-1", "array"])
def test_unreadable_override_is_one_line(tmp_path, make, message):
    path = tmp_path / "override.json"
    make(path)
    with pytest.raises(ConfigError) as error:
        load_settings(ROOT / "cdktf.json", env={"PADDLEOCR_EFS_CONFIG": str(path)})
    assert message in str(error.value) and "\n" not in str(error.value)


def test_missing_override_file():
    with pytest.raises(ConfigError, match="nope.json: file not found"):
        load_settings(ROOT / "cdktf.json", env={"PADDLEOCR_EFS_CONFIG": "/nope.json"})


@pytest.mark.parametrize("override,line", [
    ({"network": {"cidr": "300.0.0.0/16"}},
     "network.cidr: '300.0.0.0/16' is not a valid IPv4 CIDR (Octet 300 (> 255) not permitted in '300.0.0.0')"),
    ("directory", "is a directory, not a JSON file"),
], ids=["bad value", "override is a directory"])
def test_main_prints_one_line_and_no_traceback(tmp_path, override, line):
    bad = tmp_path / "bad.json"
    if override == "directory":
        bad.mkdir()
    else:
        bad.write_text(json.dumps(override))
    result = subprocess.run([sys.executable, str(ROOT / "main.py")], cwd=tmp_path, capture_output=True, text=True,
                            env={"PADDLEOCR_EFS_CONFIG": str(bad), "PATH": f"{ROOT / 'node_modules' / '.bin'}:/usr/bin:/bin"}, timeout=120)
    assert result.returncode == 2
    [printed] = result.stderr.strip().splitlines()
    assert printed.startswith("paddleocr-efs: config error: ") and line in printed
    assert not (tmp_path / "cdktf.out").exists()


@pytest.mark.parametrize("props", sorted(Props.__subclasses__(), key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_every_field_is_documented_where_help_shows_it(props):
    doc = props.__doc__ or ""  # what help() prints first; the generated signature does not count
    missing = [f.name for f in dataclasses.fields(props) if not re.search(rf"\b{f.name}\b[^\n]*:|\b{f.name}:", doc)]
    assert not missing, f"{props.__name__}'s docstring does not describe {missing}"


@pytest.mark.slow
def test_make_synth_stops_with_exit_2_and_the_error_once(tmp_path):
    """`make synth` runs main.py itself: the cdktf CLI would end it with exit 1 and print it twice."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"region": "mars-1"}))
    result = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", "-o", "node_modules/.installed",
                             "-o", "node_modules/.node-installed", "synth"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PADDLEOCR_EFS_CONFIG": str(bad)})
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "mars-1" in line]
    assert errors == ["paddleocr-efs: config error: region: 'mars-1' is not an AWS region name like 'us-east-1'"]


@pytest.mark.slow
def test_the_cdktf_cli_with_ci_set_draws_one_final_frame_and_no_telemetry(tmp_path):
    """The README's way to run the CLI by hand in a log: CI=1 and CHECKPOINT_DISABLE=1. Without
    CI, a non-TTY log of one failed synth held 45 spinner frames; with it, the CLI draws only its
    final one (the make targets drop that line too: tests/e2e/test_deploy.py)."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"region": "mars-1"}))
    env = {**os.environ, "PADDLEOCR_EFS_CONFIG": str(bad), "CI": "1", "CHECKPOINT_DISABLE": "1",
           "PATH": f"{ROOT / 'node_modules' / '.bin'}:{os.environ['PATH']}"}
    result = subprocess.run(["npx", "cdktf", "synth"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "region: 'mars-1' is not an AWS region name" in out
    frames = [line for line in out.splitlines() if re.search("[\u2800-\u28ff]", line)]
    assert len(frames) <= 1, frames
    assert "checkpoint-api.hashicorp.com" not in out and "ENOTFOUND" not in out
