"""The model source: where the warmer fetches archives, and the grant an S3 mirror needs."""

import json
import re

import pytest

from constructs_lib.model_source import ModelSourceProps
from tests.synth import assert_refused, load_stack, one, resources, role_policies, settings, synth_app


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


def test_the_tier_reaches_the_warmer_and_the_worker_alike(containers, tmp_path):
    assert [{e["name"]: e["value"] for e in c["environment"]}["OCR_MODEL_TIER"] for c in containers.values()] == \
           ["tiny", "tiny"]
    doc = load_stack(synth_app(tmp_path, settings(models={"tier": "small"}, service={"memory": 8192})), "service")
    definitions = json.loads(one(resources(doc, "aws_ecs_task_definition"))["container_definitions"])
    assert [{e["name"]: e["value"] for e in c["environment"]}["OCR_MODEL_TIER"] for c in definitions] == \
           ["small", "small"]


def test_props_refuse_an_unknown_tier():
    assert_refused(ModelSourceProps, {"tier": "large"}, "tier: 'large' must be one of tiny, small, medium, v5")


def test_a_tier_gets_the_task_memory_it_needs():
    from constructs_lib.validation import ConfigError

    with pytest.raises(ConfigError, match=r"service.memory: 4096 MiB is too little for models.tier 'small': "
                                          r"it needs 8192 or more"):
        settings(models={"tier": "small"})
    assert settings(models={"tier": "small"}, service={"memory": 8192}).models.tier == "small"
