"""Where each stack keeps its state: local, S3 (native locking) or Terraform Cloud."""

from __future__ import annotations

from cdktf import CloudBackend, LocalBackend, NamedCloudWorkspace, S3Backend, S3BackendEndpointConfig, TerraformStack

from constructs_lib.config import Settings


def add_backend(stack: TerraformStack, name: str, settings: Settings, *, force_local: bool = False) -> None:
    """Configure ``stack``'s backend. cdktf copies this configuration into the
    ``terraform_remote_state`` data sources of every stack that references this one."""
    b = settings.backend
    if force_local or b.type == "local":
        # Terraform runs in cdktf.out/stacks/<stack>/: keep every state file at the project root
        # (as cdktf's default does) without writing this machine's absolute path into the JSON.
        LocalBackend(stack, path=f"../../../terraform.{name}.tfstate")
    elif b.type == "s3":
        endpoint = settings.aws_endpoint
        S3Backend(
            stack,
            bucket=b.bucket,
            key=f"{b.key_prefix}/{name}.tfstate",
            region=settings.state_region,
            # `encrypt` alone makes Terraform send SSE-S3 (AES256) on every write, overriding the
            # bucket's SSE-KMS default. With a key it is SSE-KMS with that key; without, the
            # bucket's default encryption applies.
            encrypt=True if b.kms_key_id else None,
            kms_key_id=b.kms_key_id,
            dynamodb_table=b.dynamodb_table,
            endpoints=S3BackendEndpointConfig(s3=endpoint, sts=endpoint, iam=endpoint) if endpoint else None,
            use_path_style=True if endpoint else None,
            skip_credentials_validation=True if endpoint else None,
            skip_requesting_account_id=True if endpoint else None,
        )
        if b.use_lockfile:
            # S3-native locking (Terraform >= 1.10); cdktf 0.21's S3Backend has no such argument.
            stack.add_override("terraform.backend.s3.use_lockfile", True)
    else:
        CloudBackend(stack, organization=b.organization, hostname=b.hostname,
                     workspaces=NamedCloudWorkspace(f"{b.workspace_prefix}-{name}"))
