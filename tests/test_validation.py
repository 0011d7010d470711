"""The shared rules: one-line errors that name the field, and AWS's limits that several props use."""

import pytest

from constructs_lib import validation
from constructs_lib.validation import ConfigError


def test_an_error_is_one_line_owner_field_problem():
    error = ConfigError("uid", "must be positive", owner="ModelCacheProps")
    assert str(error) == "ModelCacheProps.uid: must be positive"
    assert (error.field, error.problem) == ("uid", "must be positive")
    assert isinstance(error, ValueError)


@pytest.mark.parametrize("check,args", [
    (validation.region, ("us-gov-west-1",)),
    (validation.kms_key_arn, ("arn:aws:kms:eu-west-1:111122223333:key/mrk-1234567890abcdef1234567890abcdef",)),
    (validation.email, ("ocr-oncall+alarms@example.co.uk",)),
    (validation.log_group_name, ("/ecs/sabuho-processor",)),
    (validation.s3_bucket_name, ("acme-tfstate.eu",)),
], ids=["gov region", "multi-region key", "plus address", "log group", "dotted bucket"])
def test_valid_values_pass(check, args):
    check("field", *args)


@pytest.mark.parametrize("check,args,message", [
    (validation.tags, ({"k" * 129: "v"},), "field.kkk"),
    (validation.tags, ({"Team": "a|b"},), "field.Team: 'a|b': tag values"),
    (validation.zones, (["us-east-1a", "us-west-2a"], "us-east-1"), "field[1]: 'us-west-2a' is not a zone of region"),
    (validation.resource_id, ("sg-12", "sg"), "field: 'sg-12' is not an id like 'sg-0123456789abcdef0'"),
    (validation.log_retention, (0,), "field: 0 is not a CloudWatch Logs retention period"),
], ids=["tag key too long", "tag value character", "zone of another region", "short id", "retention zero"])
def test_invalid_values_name_the_field(check, args, message):
    with pytest.raises(ConfigError) as error:
        check("field", *args)
    assert str(error.value).startswith(message), str(error.value)


def test_fargate_table_is_exact():
    assert validation.FARGATE_SIZES[256] == (512, 1024, 2048)
    assert validation.FARGATE_SIZES[4096][-1] == 30720 and len(validation.FARGATE_SIZES[4096]) == 23
    assert validation.FARGATE_SIZES[16384][:2] == (32768, 40960)
