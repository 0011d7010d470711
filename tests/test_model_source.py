"""The model source: where the warmer fetches archives, and the grant an S3 mirror needs."""

import re

import pytest

from constructs_lib.model_source import ModelSourceProps
from tests.synth import assert_refused, load_stack, role_policies, settings, synth_app


def test_s3_model_source_gets_a_read_grant_on_its_prefix_only(tmp_path):
    doc = load_stack(synth_app(tmp_path, settings(models={"source": "s3://acme-models/paddle/v3/"})), "service")
    [(effect, actions, res)] = role_policies(doc, "task-role")["model-source-read"]
    assert (effect, actions) == ("Allow", ["s3:GetObject"])
    [arn] = res
    assert re.fullmatch(r"arn:\$\{data\.aws_partition\.[\w-]+\.partition\}:s3:::acme-models/paddle/v3/\*", arn), arn


def test_other_sources_need_no_grant(service_doc):
    assert "model-source-read" not in role_policies(service_doc, "task-role")


@pytest.mark.parametrize("source,message", [
    ("ftp://mirror/models", "source: 'ftp://mirror/models' must be a s3://, https?://, file:// URL"),
    ("s3://Bad_Bucket/models", "source: 'Bad_Bucket' is not valid"),
    ("offical", "source: 'offical' must be"),
], ids=["scheme", "bucket name", "typo"])
def test_props_refuse_a_source_the_warmer_cannot_read(source, message):
    assert_refused(ModelSourceProps, {"source": source}, message)
