"""Where the warm-up container fetches model archives from, and the grant an S3 mirror needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from constructs_lib import aws_env, validation
from constructs_lib.framework import aws
from constructs_lib.policy import Role, grant, statement
from constructs_lib.validation import Props

IamRolePolicy = aws.iam_role_policy.IamRolePolicy


#: The model sets the image pins (``OCR_MODEL_TIER``; image/ocr_worker/models.py TIERS), fastest
#: first: PP-OCRv6 tiny, small and medium with the document orientation classifier, and the
#: earlier releases' PP-OCRv5 set, all in ONNX format (README: Model tiers).
TIERS = ("tiny", "small", "medium", "v5")
#: Task memory (MiB) each tier needs. tiny: its peak stays under 3 GB on the largest inputs
#: (tests/worker/test_memory.py). small: 4.3 GB peak on real pages (tests/bench/bench_serve.py),
#: so 8 GB; medium is larger and its weights cannot be had offline: at least small's.
MIN_TASK_MEMORY = {"tiny": 4096, "small": 8192, "medium": 8192, "v5": 4096}


@dataclass(frozen=True)
class ModelSourceProps(Props):
    """Which models the warm-up container fetches, and from where.

    Attributes:
        tier: The model set, one of :data:`TIERS`: ``tiny`` (the default, README: Model tiers),
            ``small``, ``medium`` or ``v5``. Set on the warmer and the worker alike; ``small`` and
            ``medium`` need ``service.memory`` of 8192 or more (:data:`MIN_TASK_MEMORY`).
        source: ``official`` (PaddleX's hosts, the default), or an ``s3://``, ``https://`` or
            ``file://`` mirror URL holding the tier's archives (``<name>_onnx_infer.tar``).
    """

    tier: str = "tiny"
    source: str = "official"

    def validate(self) -> None:
        validation.check(self.tier in TIERS, "tier", f"{self.tier!r} must be one of {', '.join(TIERS)}")
        if self.source != "official":
            validation.url("source", self.source, ("s3", "https?", "file"))
            if self.s3_objects is not None:
                validation.s3_bucket_name("source", self.s3_objects[0])

    @property
    def s3_objects(self) -> Optional[tuple[str, str]]:
        """(bucket, key prefix) of an s3:// source, else None."""
        if not self.source.startswith("s3://"):
            return None
        bucket, _, prefix = self.source.removeprefix("s3://").partition("/")
        return bucket, prefix.strip("/")


def grant_model_source_read(role: Role, props: ModelSourceProps) -> Optional[IamRolePolicy]:
    """GetObject on the archives under an ``s3://bucket/prefix`` source and nothing else: ``warm``
    reads ``<prefix>/<model>_onnx_infer.tar`` (HeadObject needs s3:GetObject too; no ListBucket is
    needed). Other sources need no grant: returns None."""
    if props.s3_objects is None:
        return None
    bucket, prefix = props.s3_objects
    objects = f"arn:{aws_env.partition(role)}:s3:::{bucket}/{prefix + '/' if prefix else ''}*"
    return grant(role, "model-source-read", [statement("ReadModelArchives", ["s3:GetObject"], [objects])])
