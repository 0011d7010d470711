"""The AWS provider: a constraint that admits the mirrored 5.100 and the bindings' 6.x, and tags."""

from constructs_lib import __version__
from constructs_lib.provider import AWS_PROVIDER_CONSTRAINT, add_aws_provider, constrain_aws_provider
from tests.synth import synth_stack


def stack_with_provider(**kwargs):
    from constructs_lib.framework import TerraformStack, Testing

    stack = TerraformStack(Testing.app(), "p")
    add_aws_provider(stack, region="eu-west-1", project="teamb", **kwargs)
    return stack


def test_default_constraint_admits_5_100_and_6():
    doc = synth_stack(stack_with_provider())
    assert doc["terraform"]["required_providers"]["aws"]["version"] == AWS_PROVIDER_CONSTRAINT == ">= 5.100.0, < 7.0.0"


def test_a_consumer_chooses_its_own_constraint():
    doc = synth_stack(stack_with_provider(version_constraint="~> 6.25"))
    assert doc["terraform"]["required_providers"]["aws"]["version"] == "~> 6.25"


def test_constraint_alone_for_a_stack_with_its_own_provider():
    from constructs_lib.framework import TerraformStack, Testing, aws

    stack = TerraformStack(Testing.app(), "own")
    aws.provider.AwsProvider(stack, "aws", region="us-west-2")
    constrain_aws_provider(stack)
    assert synth_stack(stack)["terraform"]["required_providers"]["aws"]["version"] == AWS_PROVIDER_CONSTRAINT


def test_every_resource_is_tagged_with_project_and_owner_plus_extra_tags():
    provider = synth_stack(stack_with_provider(tags={"CostCenter": "ocr"}))["provider"]["aws"][0]
    assert provider["default_tags"] == [{"tags": {"Project": "teamb", "ManagedBy": f"paddleocr-efs {__version__}", "CostCenter": "ocr"}}]
    assert "endpoints" not in provider and "max_retries" not in provider


def test_an_endpoint_points_every_service_at_a_local_api():
    provider = synth_stack(stack_with_provider(endpoint="http://127.0.0.1:5000"))["provider"]["aws"][0]
    assert set(provider["endpoints"][0].values()) == {"http://127.0.0.1:5000"}
    assert provider["max_retries"] == 2 and provider["s3_use_path_style"] is True
