"""SecureBucket: every bucket here is versioned, encrypted, private and TLS-only."""

import pytest

from constructs_lib.framework import aws
from constructs_lib.secure_bucket import SecureBucket, SecureBucketProps
from tests.synth import assert_refused, new_stack, resources, role_policies, synth_stack


def test_buckets_are_hardened(service_doc):
    assert len(resources(service_doc, "aws_s3_bucket")) == 2
    for rtype in ("aws_s3_bucket_versioning", "aws_s3_bucket_server_side_encryption_configuration",
                  "aws_s3_bucket_public_access_block", "aws_s3_bucket_policy"):
        assert len(resources(service_doc, rtype)) == 2, rtype


@pytest.mark.parametrize("props,message", [
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
    (dict(bucket_name="Acme_State"), "bucket_name: 'Acme_State' is not valid"),
    (dict(bucket_name="ab"), "bucket_name: 'ab' must be 3-63 characters"),
    (dict(bucket_name="acme..state"), "bucket_name: 'acme..state': S3 bucket names cannot contain '..'"),
    (dict(bucket_name="192.168.1.10"), "bucket_name: '192.168.1.10': S3 bucket names cannot be IP addresses"),
    (dict(bucket_name="xn--acme"), "bucket_name: 'xn--acme': S3 reserves the prefixes"),
    (dict(bucket_name="acme-s3alias"), "bucket_name: 'acme-s3alias': S3 reserves the suffixes"),
    (dict(bucket_prefix="a" * 38), "bucket_prefix: '" + "a" * 38 + "' is longer than 37 characters"),
    (dict(noncurrent_days=0), "noncurrent_days: must be at least 1"),
    # Lifecycle Expiration Days: a positive integer.
    (dict(expiring_prefixes=(("parts/", 0),)), "expiring_prefixes: ('parts/', 0) needs a prefix and at least 1 day"),
], ids=["upper case", "too short", "double dot", "ip address", "reserved prefix", "reserved suffix",
        "prefix too long", "no noncurrent days", "no expiration days"])
def test_props_refuse_names_s3_refuses(props, message):
    assert_refused(SecureBucketProps, props, message)


def test_grant_read_write_is_limited_to_the_prefix_and_lists_the_bucket_for_404s():
    stack = new_stack()
    bucket = SecureBucket(stack, "b", SecureBucketProps(bucket_name="acme-out"))
    role = aws.iam_role.IamRole(stack, "role", name="r", assume_role_policy="{}")
    bucket.grant_read_write(role, "results/", "results")
    objects, listing = role_policies(synth_stack(stack), "role")["results"]
    # PutObject with If-Match needs s3:GetObject too ("Conditional writes", S3 User Guide).
    assert objects[:2] == ("Allow", ["s3:GetObject", "s3:PutObject"]) and objects[2][0].endswith(".arn}/results/*")
    # HeadObject of a key not yet written answers 404 only with s3:ListBucket (HeadObject, "Permissions").
    assert listing[:2] == ("Allow", ["s3:ListBucket"]) and listing[2][0].endswith(".arn}")
