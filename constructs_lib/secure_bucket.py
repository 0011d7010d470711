"""An S3 bucket with the hardening every bucket here needs, and prefix-scoped grants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from constructs import Construct

from constructs_lib import validation
from constructs_lib.framework import aws
from constructs_lib.policy import Role, deny_without_tls, grant, policy_document, statement

IamRolePolicy = aws.iam_role_policy.IamRolePolicy
S3Bucket = aws.s3_bucket.S3Bucket
S3BucketLifecycleConfiguration = aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfiguration
S3BucketLifecycleConfigurationRule = aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfigurationRule
S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload = aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload  # noqa: E501 (a binding name)
S3BucketLifecycleConfigurationRuleExpiration = aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfigurationRuleExpiration  # noqa: E501 (a binding name)
S3BucketLifecycleConfigurationRuleFilter = aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfigurationRuleFilter  # noqa: E501 (a binding name)
S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration = aws.s3_bucket_lifecycle_configuration.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration  # noqa: E501 (a binding name)
S3BucketOwnershipControls = aws.s3_bucket_ownership_controls.S3BucketOwnershipControls
S3BucketOwnershipControlsRule = aws.s3_bucket_ownership_controls.S3BucketOwnershipControlsRule
S3BucketPolicy = aws.s3_bucket_policy.S3BucketPolicy
S3BucketPublicAccessBlock = aws.s3_bucket_public_access_block.S3BucketPublicAccessBlock
S3BucketServerSideEncryptionConfigurationA = aws.s3_bucket_server_side_encryption_configuration.S3BucketServerSideEncryptionConfigurationA  # noqa: E501 (a binding name)
S3BucketServerSideEncryptionConfigurationRuleA = aws.s3_bucket_server_side_encryption_configuration.S3BucketServerSideEncryptionConfigurationRuleA  # noqa: E501 (a binding name)
S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA = aws.s3_bucket_server_side_encryption_configuration.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA  # noqa: E501 (a binding name)
S3BucketVersioningA = aws.s3_bucket_versioning.S3BucketVersioningA
S3BucketVersioningVersioningConfiguration = aws.s3_bucket_versioning.S3BucketVersioningVersioningConfiguration


#: Terraform's ``bucket_prefix`` leaves 26 characters of S3's 63 for its unique suffix.
MAX_BUCKET_PREFIX = 37


@dataclass(frozen=True)
class SecureBucketProps(validation.Props):
    """Attributes:
        bucket_name: The bucket's name. Default: a unique name from ``bucket_prefix``.
        bucket_prefix: Name prefix when ``bucket_name`` is not given, at most 37 characters.
        noncurrent_days: Days an overwritten or deleted version is kept. Default 90.
        force_destroy: Let ``destroy`` delete the bucket with every object version in it.
            Default off.
        expiring_prefixes: ``(prefix, days)`` pairs: objects under ``prefix`` expire ``days``
            after they are written, and their old versions a day later.
    """

    bucket_name: Optional[str] = None
    bucket_prefix: Optional[str] = None
    noncurrent_days: int = 90
    force_destroy: bool = False
    expiring_prefixes: tuple[tuple[str, int], ...] = ()

    def validate(self) -> None:
        if self.bucket_name is not None:
            validation.s3_bucket_name("bucket_name", self.bucket_name)
        if self.bucket_prefix is not None:
            validation.check(len(self.bucket_prefix) <= MAX_BUCKET_PREFIX, "bucket_prefix",
                             f"{self.bucket_prefix!r} is longer than {MAX_BUCKET_PREFIX} characters")
            validation.s3_bucket_name("bucket_prefix", self.bucket_prefix + "x")
        # NoncurrentDays must be a positive integer (S3 lifecycle configuration elements).
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html
        validation.check(self.noncurrent_days >= 1, "noncurrent_days", "must be at least 1")
        # Expiration Days must be a positive integer, and a rule's prefix a non-empty key prefix.
        for prefix, days in self.expiring_prefixes:
            validation.check(bool(prefix) and days >= 1, "expiring_prefixes",
                             f"({prefix!r}, {days}) needs a prefix and at least 1 day")


class SecureBucket(Construct):
    """Versioned, SSE-KMS encrypted (AWS-managed key, bucket key on), public access blocked,
    ACLs disabled, TLS-only bucket policy, old versions expired after ``noncurrent_days``."""

    bucket: S3Bucket

    def __init__(self, scope: Construct, id: str, props: Optional[SecureBucketProps] = None) -> None:
        """Attributes: ``bucket`` (S3Bucket), ``props``."""
        super().__init__(scope, id)
        props = self.props = props or SecureBucketProps()
        self.bucket = bucket = S3Bucket(self, "bucket", bucket=props.bucket_name, bucket_prefix=props.bucket_prefix,
                                        force_destroy=props.force_destroy)
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
                    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=props.noncurrent_days)],
                abort_incomplete_multipart_upload=[
                    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=7)]),
            # Where rules overlap, the shorter expiration is honored ("How Amazon S3 handles
            # conflicts in lifecycle configurations",
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-conflicts.html).
            *(S3BucketLifecycleConfigurationRule(
                id=f"expire-{index}", status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix=prefix)],
                expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=days)],
                noncurrent_version_expiration=[
                    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=1)])
              for index, (prefix, days) in enumerate(props.expiring_prefixes, 1))])
        tls_only = policy_document(self, "tls-only", [deny_without_tls(["s3:*"], [bucket.arn, f"{bucket.arn}/*"])])
        # Applying a policy while the public access block is being written races; order them.
        S3BucketPolicy(self, "policy", bucket=bucket.id, policy=tls_only.json, depends_on=[block])

    def grant_read_write(self, role: Role, prefix: str, name: str) -> IamRolePolicy:
        """Read, write and conditionally overwrite objects under ``prefix*``.

        - ``s3:PutObject``; with ``If-None-Match`` too ("Conditional writes", S3 User Guide).
        - ``s3:GetObject``: HeadObject, and PutObject with ``If-Match``, which needs both
          s3:PutObject and s3:GetObject ("Conditional writes").
        - ``s3:ListBucket`` on the bucket, so that HeadObject of a key not written yet answers 404
          rather than 403 (HeadObject API reference, "Permissions"). Key names only."""
        return grant(role, name, [
            statement("ReadWritePrefix", ["s3:GetObject", "s3:PutObject"], [f"{self.bucket.arn}/{prefix}*"]),
            statement("MissingKeyIs404", ["s3:ListBucket"], [self.bucket.arn])])
