"""Backends: local, S3 or Terraform Cloud, each state location namespaced by the project."""

import pytest

from constructs_lib.backend import BackendProps, add_backend
from tests.synth import assert_refused, new_stack, synth_stack


def backend_of(props: BackendProps, project: str = "teamb", **kwargs) -> dict:
    stack = new_stack("network")
    add_backend(stack, "network", props, project=project, region="eu-west-1", **kwargs)
    return synth_stack(stack)["terraform"]


def test_local_state_file_is_per_project_and_stack():
    assert backend_of(BackendProps())["backend"] == {"local": {"path": "../../../terraform.teamb.network.tfstate"}}


def test_s3_key_is_prefix_project_stack_in_the_app_region_by_default():
    s3 = backend_of(BackendProps(type="s3", bucket="acme-tfstate"))["backend"]["s3"]
    assert (s3["key"], s3["region"], s3["use_lockfile"]) == ("paddleocr-efs/teamb/network.tfstate", "eu-west-1", True)


def test_cloud_workspace_is_prefix_project_stack():
    cloud = backend_of(BackendProps(type="cloud", organization="acme", workspace_prefix="ocr"))["cloud"]
    assert cloud["workspaces"] == {"name": "ocr-teamb-network"}


def test_force_local_keeps_the_bootstrap_state_local():
    assert "local" in backend_of(BackendProps(type="s3", bucket="acme-tfstate"), force_local=True)["backend"]


BAD_PROPS = {
    "s3 without bucket": (dict(type="s3"), "bucket: required when type is 's3'"),
    "bucket name": (dict(type="s3", bucket="Acme_State"), "bucket: 'Acme_State' is not valid"),
    "kms alias": (dict(type="s3", bucket="acme-tfstate", kms_key_id="alias/x"), "kms_key_id: 'alias/x' must be a KMS key ARN"),
    "kms without s3": (dict(kms_key_id="arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
                       "kms_key_id: only valid when type is 's3'"),
    "cloud without organization": (dict(type="cloud"), "organization: required when type is 'cloud'"),
    # https://developer.hashicorp.com/terraform/cloud-docs/workspaces/create#workspace-naming
    "workspace prefix": (dict(workspace_prefix="ocr env"), "workspace_prefix: 'ocr env' must be 1-50"),
    "key prefix slash": (dict(key_prefix="/state/"), "key_prefix: '/state/' must not start or end with '/'"),
    "state region": (dict(region="eu-west"), "region: 'eu-west' is not an AWS region name"),
}


@pytest.mark.parametrize("props,message", BAD_PROPS.values(), ids=BAD_PROPS.keys())
def test_props_refuse_a_backend_terraform_cannot_use(props, message):
    assert_refused(BackendProps, props, message)
