"""The real terraform binary with the real AWS provider validates every synthesized stack."""

import subprocess

import pytest

from tests.synth import settings, synth_app

pytestmark = [pytest.mark.terraform, pytest.mark.slow]

VARIANTS = {
    "existing-vpc-and-efs": {
        "network": {"vpc_id": "vpc-0123456789abcdef0",
                    "private_subnet_ids": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]},
        "model_cache": {"existing_file_system_id": "fs-0123456789abcdef0",
                        "existing_security_group_id": "sg-0123456789abcdef0"},
    },
    "spot-exec-pinned-zones-s3-models": {
        "service": {"spot": True, "enable_exec": True},
        "monitoring": {"alarm_email": "ops@example.com"},
        "network": {"availability_zones": ["us-east-1b", "us-east-1c"]},
        "models": {"source": "s3://acme-models/paddle"},
    },
    "per-az-nat-provisioned-cmk": {
        "network": {"nat_gateways": "per_az", "az_count": 3},
        "model_cache": {"throughput_mode": "provisioned", "provisioned_throughput_mibps": 32,
                        "kms_key_arn": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
    },
}


def terraform(env, cwd, *args):
    result = subprocess.run(["terraform", *args, "-no-color"], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, f"terraform {' '.join(args)} failed in {cwd.name}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def validate_all(stacks, env):
    for stack in sorted(stacks.iterdir()):
        terraform(env, stack, "init", "-backend=false", "-input=false")
        assert "Success! The configuration is valid." in terraform(env, stack, "validate")


def test_default_stacks_validate(default_stacks, terraform_env):
    validate_all(default_stacks, terraform_env)


def test_s3_backend_stacks_validate(s3_stacks, terraform_env):
    validate_all(s3_stacks, terraform_env)


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_validates(name, tmp_path, terraform_env):
    validate_all(synth_app(tmp_path, settings(**VARIANTS[name])), terraform_env)
