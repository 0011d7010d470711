"""Where the warm-up container fetches model archives from, when that is an S3 mirror."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from constructs_lib.policy import grant, statement


def grant_model_source_read(scope: Construct, role: IamRole, source: str) -> IamRolePolicy:
    """GetObject on the archives under ``s3://bucket/prefix`` and nothing else: ``warm`` reads
    ``<prefix>/<model>_infer.tar`` (HeadObject needs s3:GetObject too; no ListBucket is needed)."""
    bucket, _, prefix = source.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    partition = DataAwsPartition(scope, "model-source-partition")
    objects = f"arn:{partition.partition}:s3:::{bucket}/{prefix + '/' if prefix else ''}*"
    return grant(scope, role, "model-source-read", [statement("ReadModelArchives", ["s3:GetObject"], [objects])])
