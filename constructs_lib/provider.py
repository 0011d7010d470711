"""The AWS provider, its version constraint and optional custom endpoints."""

from __future__ import annotations

from cdktf import TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints

from constructs_lib.config import Settings

#: The prebuilt bindings were generated from provider 6.25.0 and write ``version = "6.25.0"``.
#: Everything here uses only arguments that 5.100 accepts too, so admit both majors.
AWS_PROVIDER_CONSTRAINT = ">= 5.100.0, < 7.0.0"

#: Services the stacks call; all are pointed at ``aws_endpoint`` when it is set.
_ENDPOINT_SERVICES = ("appautoscaling", "cloudwatch", "ec2", "ecr", "ecs", "efs", "events", "iam", "kms",
                      "logs", "s3", "sns", "sqs", "sts")


def add_aws_provider(stack: TerraformStack, settings: Settings) -> AwsProvider:
    tags = {"Project": settings.project, "ManagedBy": "paddleocr-efs", **settings.tags}
    endpoint = settings.aws_endpoint
    provider = AwsProvider(
        stack, "aws",
        region=settings.region,
        default_tags=[AwsProviderDefaultTags(tags=tags)],
        endpoints=[AwsProviderEndpoints(**{s: endpoint for s in _ENDPOINT_SERVICES})] if endpoint else None,
        s3_use_path_style=True if endpoint else None,
        # A local AWS API answers unimplemented calls with HTTP 500, which the provider would
        # otherwise retry for minutes.
        max_retries=2 if endpoint else None,
    )
    stack.add_override("terraform.required_providers.aws.version", AWS_PROVIDER_CONSTRAINT)
    return provider
