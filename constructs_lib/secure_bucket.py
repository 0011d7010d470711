"""An S3 bucket with the hardening every bucket here needs, and prefix-scoped grants."""

from __future__ import annotations

from typing import Optional

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from constructs import Construct

from constructs_lib.policy import deny_without_tls, grant, policy_document, statement


class SecureBucket(Construct):
    """Versioned, SSE-KMS encrypted (AWS-managed key, bucket key on), public access blocked,
    ACLs disabled, TLS-only bucket policy, old versions expired after ``noncurrent_days``."""

    bucket: S3Bucket

    def __init__(self, scope: Construct, id: str, *, bucket_name: Optional[str] = None,
                 bucket_prefix: Optional[str] = None, noncurrent_days: int = 90,
                 force_destroy: bool = False) -> None:
        super().__init__(scope, id)
        self.bucket = bucket = S3Bucket(self, "bucket", bucket=bucket_name, bucket_prefix=bucket_prefix,
                                        force_destroy=force_destroy)
        S3BucketVersioningA(self, "versioning", bucket=bucket.id,
                            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"))
        S3BucketServerSideEncryptionConfigurationA(self, "encryption", bucket=bucket.id, rule=[
            S3BucketServerSideEncryptionConfigurationRuleA(
                bucket_key_enabled=True,
                apply_server_side_encryption_by_default=(
                    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                        sse_algorithm="aws:kms")))])
        block = S3BucketPublicAccessBlock(self, "public-access-block", bucket=bucket.id, block_public_acls=True,
                                          block_public_policy=True, ignore_public_acls=True,
                                          restrict_public_buckets=True)
        S3BucketOwnershipControls(self, "ownership", bucket=bucket.id,
                                  rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"))
        S3BucketLifecycleConfiguration(self, "lifecycle", bucket=bucket.id, rule=[
            S3BucketLifecycleConfigurationRule(
                id="expire-old-versions", status="Enabled", filter=[S3BucketLifecycleConfigurationRuleFilter()],
                noncurrent_version_expiration=[
                    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=noncurrent_days)],
                abort_incomplete_multipart_upload=[
                    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=7)])])
        tls_only = policy_document(self, "tls-only", [deny_without_tls(["s3:*"], [bucket.arn, f"{bucket.arn}/*"])])
        # Applying a policy while the public access block is being written races; order them.
        S3BucketPolicy(self, "policy", bucket=bucket.id, policy=tls_only.json, depends_on=[block])

    def grant_put(self, role: IamRole, prefix: str, name: str) -> IamRolePolicy:
        """PutObject on ``prefix*`` only."""
        return grant(self, role, name, [statement("WritePrefix", ["s3:PutObject"], [f"{self.bucket.arn}/{prefix}*"])])
