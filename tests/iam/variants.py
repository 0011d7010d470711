"""The configurations whose grants the IAM contract is checked on (issue: the default synth, spot
with exec, an external ECR image, an s3:// model source, an existing input bucket, an adopted VPC)."""

#: Where tests/worker/test_cache.py keeps the s3:// model mirror it warms from as the task role.
MODEL_SOURCE_BUCKET = "acme-models"
MODEL_SOURCE = f"s3://{MODEL_SOURCE_BUCKET}/paddlex"

VARIANTS = {
    "default": {},
    "spot-with-exec": {"service": {"spot": True, "enable_exec": True}},
    "external-ecr-image": {"image": {"build": False,
                                     "image_uri": "210987654321.dkr.ecr.eu-west-1.amazonaws.com/team/ocr-worker:1.4"}},
    "s3-model-source": {"models": {"source": MODEL_SOURCE}},
    "existing-input-bucket": {"documents": {"existing_input_bucket": "acme-scans"}},
    "adopted-vpc": {"network": {"vpc_id": "vpc-0123456789abcdef0",
                                "private_subnet_ids": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]}},
}
