"""Where each stack keeps its state: local, S3 (native locking) or Terraform Cloud."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Optional

from constructs_lib import validation
from constructs_lib.framework import (
    CloudBackend,
    LocalBackend,
    NamedCloudWorkspace,
    S3Backend,
    S3BackendEndpointConfig,
    TerraformStack,
)
from constructs_lib.validation import Props, check


@dataclass(frozen=True)
class BackendProps(Props):
    """Where each stack keeps its Terraform state (the bootstrap stack always stays local).

    Every state location includes the project, so two environments never share state:
    local ``terraform.<project>.<stack>.tfstate``, S3 ``<key_prefix>/<project>/<stack>.tfstate``,
    Terraform Cloud workspace ``<workspace_prefix>-<project>-<stack>``.

    Attributes:
        type: ``local`` (default, for a first try), ``s3`` or ``cloud``.
        bucket: s3: the state bucket, e.g. the one the bootstrap stack creates. Required for s3.
        region: s3: the bucket's region. Default: the app's region.
        key_prefix: s3: object key prefix. Default ``paddleocr-efs``.
        use_lockfile: s3: S3-native locking (a ``.tflock`` object, Terraform >= 1.10). Default on.
        kms_key_id: s3: encrypt state with this KMS key ARN (SSE-KMS). Default: the bucket's
            default encryption (SSE-KMS with the AWS-managed key for a bootstrap bucket).
        dynamodb_table: s3: a DynamoDB lock table, for Terraform older than 1.10.
        organization: cloud: the Terraform Cloud / HCP Terraform organization. Required for cloud.
        workspace_prefix: cloud: workspace name prefix. Default ``paddleocr-efs``.
        hostname: cloud: the host, for Terraform Enterprise. Default app.terraform.io.
    """

    type: Literal["local", "s3", "cloud"] = "local"
    bucket: Optional[str] = None
    region: Optional[str] = None
    key_prefix: str = "paddleocr-efs"
    use_lockfile: bool = True
    kms_key_id: Optional[str] = None
    dynamodb_table: Optional[str] = None
    organization: Optional[str] = None
    workspace_prefix: str = "paddleocr-efs"
    hostname: Optional[str] = None

    def validate(self) -> None:
        check(self.type in ("local", "s3", "cloud"), "type", f"{self.type!r} must be 'local', 's3' or 'cloud'")
        if self.type == "s3":
            check(bool(self.bucket), "bucket", "required when type is 's3'")
        if self.bucket is not None:
            validation.s3_bucket_name("bucket", self.bucket)
        if self.region is not None:
            validation.region("region", self.region)
        # S3 object keys: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
        check(self.key_prefix == "" or (len(self.key_prefix) <= 512 and not self.key_prefix.startswith("/")
                                        and not self.key_prefix.endswith("/")), "key_prefix",
              f"{self.key_prefix!r} must not start or end with '/'")
        if self.kms_key_id is not None:
            check(self.type == "s3", "kms_key_id", "only valid when type is 's3'")
            validation.kms_key_arn("kms_key_id", self.kms_key_id)
        if self.type == "cloud":
            check(bool(self.organization), "organization", "required when type is 'cloud'")
        # Terraform Cloud workspace names: letters, digits, '-' and '_', at most 90 characters.
        # https://developer.hashicorp.com/terraform/cloud-docs/workspaces/create#workspace-naming
        check(re.fullmatch(r"[A-Za-z0-9_-]{1,50}", self.workspace_prefix) is not None, "workspace_prefix",
              f"{self.workspace_prefix!r} must be 1-50 letters, digits, '-' or '_'")

    def state_key(self, project: str, stack: str) -> str:
        return f"{self.key_prefix + '/' if self.key_prefix else ''}{project}/{stack}.tfstate"

    def workspace(self, project: str, stack: str) -> str:
        return f"{self.workspace_prefix}-{project}-{stack}"


def add_backend(stack: TerraformStack, name: str, props: BackendProps, *, project: str, region: str,
                endpoint: Optional[str] = None, force_local: bool = False) -> None:
    """Configure ``stack``'s backend. cdktf copies this configuration into the
    ``terraform_remote_state`` data sources of every stack that references this one."""
    if force_local or props.type == "local":
        # Terraform runs in cdktf.out/stacks/<stack>/: keep every state file at the project root
        # (as cdktf's default does) without writing this machine's absolute path into the JSON.
        LocalBackend(stack, path=f"../../../terraform.{project}.{name}.tfstate")
    elif props.type == "s3":
        S3Backend(
            stack,
            bucket=props.bucket,
            key=props.state_key(project, name),
            region=props.region or region,
            # `encrypt` alone makes Terraform send SSE-S3 (AES256) on every write, overriding the
            # bucket's SSE-KMS default. With a key it is SSE-KMS with that key; without, the
            # bucket's default encryption applies.
            encrypt=True if props.kms_key_id else None,
            kms_key_id=props.kms_key_id,
            dynamodb_table=props.dynamodb_table,
            endpoints=S3BackendEndpointConfig(s3=endpoint, sts=endpoint, iam=endpoint) if endpoint else None,
            use_path_style=True if endpoint else None,
            skip_credentials_validation=True if endpoint else None,
            skip_requesting_account_id=True if endpoint else None,
        )
        if props.use_lockfile:
            # S3-native locking (Terraform >= 1.10); cdktf 0.21's S3Backend has no such argument.
            stack.add_override("terraform.backend.s3.use_lockfile", True)
    else:
        CloudBackend(stack, organization=props.organization, hostname=props.hostname,
                     workspaces=NamedCloudWorkspace(props.workspace(project, name)))
