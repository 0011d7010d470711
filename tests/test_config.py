"""Config loading and validation: every bad value is one line naming the key, before any construct."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from constructs_lib.config import ConfigError, load_settings, settings_from_dict

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_reproduce_the_guide_names():
    s = load_settings(ROOT / "cdktf.json", env={})
    assert s.region == "us-east-1"
    assert s.model_cache.name == "sabuho-paddleocr-models"
    assert s.model_cache.access_point_path == "/paddleocr-models"
    assert s.iam.task_role_name == "sabuho-processor-task-role"
    assert s.service.cluster_name == "sabuho-cluster"
    assert s.service.service_name == "sabuho-processor-service"
    assert s.service.family == "sabuho-processor"
    assert s.log_group == "/ecs/sabuho-processor"
    assert s.backend.type == "local"


def test_override_file_merges_key_by_key(tmp_path):
    override = tmp_path / "prod.json"
    override.write_text(json.dumps({"region": "eu-west-1", "model_cache": {"uid": 2000}}))
    s = load_settings(ROOT / "cdktf.json", env={"PADDLEOCR_EFS_CONFIG": str(override)})
    assert s.region == "eu-west-1"
    assert s.model_cache.uid == 2000
    assert s.model_cache.gid == 1000  # untouched keys keep the cdktf.json value
    assert s.model_cache.name == "sabuho-paddleocr-models"


def test_zones_are_looked_up_unless_pinned():
    # No literal "<region>a": zone letters differ per region (ap-northeast-1 has a, c and d).
    assert settings_from_dict({"region": "ap-northeast-1"}).availability_zones == []
    pinned = {"region": "ap-northeast-1", "network": {"availability_zones": ["ap-northeast-1a", "ap-northeast-1c"]}}
    assert settings_from_dict(pinned).availability_zones == ["ap-northeast-1a", "ap-northeast-1c"]


BAD = {
    "zone from another region": ({"network": {"availability_zones": ["eu-west-1a", "eu-west-1b"]}},
                                 "network.availability_zones[0]: 'eu-west-1a' is not a zone of region 'us-east-1'"),
    "local zone": ({"network": {"availability_zones": ["us-east-1a", "us-east-1-bos-1a"]}},
                   "network.availability_zones[1]: 'us-east-1-bos-1a' is not a zone of region 'us-east-1'"),
    "zone twice": ({"network": {"availability_zones": ["us-east-1a", "us-east-1a"]}},
                   "network.availability_zones: names a zone twice"),
    "state key not an ARN": ({"backend": {"type": "s3", "bucket": "b", "kms_key_id": "alias/x"}},
                             "backend.kms_key_id: 'alias/x' must be a KMS key ARN"),
    "unknown key": ({"model_cache": {"sizee": 1}}, "model_cache.sizee: unknown key"),
    "unknown top-level key": ({"regoin": "x"}, "regoin: unknown key"),
    "cidr does not parse": ({"network": {"cidr": "10.0.0/16"}}, "network.cidr: '10.0.0/16' is not a valid IPv4 CIDR"),
    "cidr host bits": ({"network": {"cidr": "10.0.0.1/16"}}, "network.cidr:"),
    "one az": ({"network": {"az_count": 1}}, "network.az_count: must be between 2 and 6"),
    "one existing subnet": ({"network": {"vpc_id": "vpc-0abc", "private_subnet_ids": ["subnet-01"]}},
                            "network.private_subnet_ids: an existing VPC needs at least 2"),
    "existing vpc without subnets": ({"network": {"vpc_id": "vpc-0abc"}}, "network.private_subnet_ids:"),
    "uid not an integer": ({"model_cache": {"uid": "1000"}}, "model_cache.uid: must be an integer, got '1000'"),
    "gid is a float": ({"model_cache": {"gid": 1000.5}}, "model_cache.gid: must be an integer, got 1000.5"),
    "uid is a bool": ({"model_cache": {"uid": True}}, "model_cache.uid: must be an integer"),
    "root uid": ({"model_cache": {"uid": 0}}, "model_cache.uid: must be a positive POSIX id"),
    "unknown backend": ({"backend": {"type": "consul"}}, "backend.type: must be one of 'local', 's3', 'cloud', got 'consul'"),
    "s3 without bucket": ({"backend": {"type": "s3"}}, "backend.bucket: required when backend.type is 's3'"),
    "cloud without organization": ({"backend": {"type": "cloud"}}, "backend.organization: required"),
    "bad throughput mode": ({"model_cache": {"throughput_mode": "max"}}, "model_cache.throughput_mode: must be one of"),
    "provisioned without mibps": ({"model_cache": {"throughput_mode": "provisioned"}},
                                  "model_cache.provisioned_throughput_mibps: required"),
    "bad file system id": ({"model_cache": {"existing_file_system_id": "efs-1"}},
                           "model_cache.existing_file_system_id: 'efs-1' is not a file system id"),
    "adopted without nfs group": ({"model_cache": {"existing_file_system_id": "fs-0abc"}},
                                  "model_cache.existing_security_group_id: required"),
    "bad region": ({"region": "us-east"}, "region: 'us-east' is not an AWS region name"),
    "fargate memory mismatch": ({"service": {"cpu": 2048, "memory": 1024}}, "service.memory: 1024 MiB does not fit"),
    "old platform": ({"service": {"platform_version": "1.3.0"}}, "service.platform_version: '1.3.0' must be 1.4.0"),
    "image uri missing": ({"image": {"build": False}}, "image.image_uri: required"),
    "section not an object": ({"network": []}, "network: must be an object"),
}


@pytest.mark.parametrize("raw,message", BAD.values(), ids=BAD.keys())
def test_bad_value_names_the_key(raw, message):
    with pytest.raises(ConfigError) as error:
        settings_from_dict(raw)
    text = str(error.value)
    assert message in text
    assert "\n" not in text


def test_invalid_json_override_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"region": "eu-west-1",\n "oops"}')
    with pytest.raises(ConfigError, match=r"bad.json: invalid JSON at line 2"):
        load_settings(ROOT / "cdktf.json", env={"PADDLEOCR_EFS_CONFIG": str(bad)})


def test_missing_override_file():
    with pytest.raises(ConfigError, match="nope.json: file not found"):
        load_settings(ROOT / "cdktf.json", env={"PADDLEOCR_EFS_CONFIG": "/nope.json"})


def test_main_prints_one_line_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"network": {"cidr": "300.0.0.0/16"}}))
    result = subprocess.run([sys.executable, str(ROOT / "main.py")], cwd=tmp_path, capture_output=True, text=True,
                            env={"PADDLEOCR_EFS_CONFIG": str(bad), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "paddleocr-efs: config error: network.cidr: '300.0.0.0/16' is not a valid IPv4 CIDR "
        "(Octet 300 (> 255) not permitted in '300.0.0.0')"]
    assert not (tmp_path / "cdktf.out").exists()
