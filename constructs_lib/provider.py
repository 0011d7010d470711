"""The AWS provider, its version constraint and optional custom endpoints."""

from __future__ import annotations

from typing import Mapping, Optional

from constructs_lib import __version__
from constructs_lib.framework import TerraformStack, aws

AwsProvider = aws.provider.AwsProvider
AwsProviderDefaultTags = aws.provider.AwsProviderDefaultTags
AwsProviderEndpoints = aws.provider.AwsProviderEndpoints

#: The prebuilt bindings were generated from provider 6.25.0 and write ``version = "6.25.0"``.
#: Everything here uses only arguments that 5.100 accepts too, so admit both majors. Pass
#: ``version_constraint`` to :func:`add_aws_provider` (or call :func:`constrain_aws_provider` on a
#: stack with your own provider) to choose another.
AWS_PROVIDER_CONSTRAINT = ">= 5.100.0, < 7.0.0"

#: Services the stacks call; all are pointed at ``endpoint`` when it is set.
_ENDPOINT_SERVICES = ("appautoscaling", "cloudwatch", "ec2", "ecr", "ecs", "efs", "events", "iam", "kms",
                      "logs", "s3", "sns", "sqs", "sts")


def constrain_aws_provider(stack: TerraformStack, constraint: str = AWS_PROVIDER_CONSTRAINT) -> None:
    """Write ``constraint`` as the stack's ``required_providers.aws.version``."""
    stack.add_override("terraform.required_providers.aws.version", constraint)


def add_aws_provider(stack: TerraformStack, *, region: str, project: str, tags: Optional[Mapping[str, str]] = None,
                     endpoint: Optional[str] = None,
                     version_constraint: str = AWS_PROVIDER_CONSTRAINT) -> AwsProvider:
    """The AWS provider for ``region``, tagging every resource with ``Project``, ``ManagedBy``
    (``paddleocr-efs <version>``: which release last deployed it) and ``tags``. ``endpoint``
    points every service at another AWS API (moto, LocalStack)."""
    provider = AwsProvider(
        stack, "aws",
        region=region,
        default_tags=[AwsProviderDefaultTags(tags={"Project": project, "ManagedBy": f"paddleocr-efs {__version__}",
                                                   **(tags or {})})],
        endpoints=[AwsProviderEndpoints(**{s: endpoint for s in _ENDPOINT_SERVICES})] if endpoint else None,
        s3_use_path_style=True if endpoint else None,
        # A local AWS API answers unimplemented calls with HTTP 500, which the provider would
        # otherwise retry for minutes.
        max_retries=2 if endpoint else None,
    )
    constrain_aws_provider(stack, version_constraint)
    return provider
