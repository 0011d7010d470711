"""The app's stacks: backends per config, remote state between stacks, provider constraint, bootstrap."""

import json

import pytest

from tests.synth import (
    data_sources,
    load_stack,
    one,
    policy_statements,
    ref,
    resources,
    role_policies,
    settings,
    synth_app,
)

STACKS = ["bootstrap", "network", "model-cache", "service"]


def test_every_stack_is_synthesized(default_stacks):
    assert sorted(p.name for p in default_stacks.iterdir()) == sorted(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_provider_constraint_admits_5_100_and_6(default_stacks, stack):
    doc = load_stack(default_stacks, stack)
    assert doc["terraform"]["required_providers"]["aws"]["version"] == ">= 5.100.0, < 7.0.0"


def test_local_backend_by_default_with_portable_paths(default_stacks):
    doc = load_stack(default_stacks, "model-cache")
    assert doc["terraform"]["backend"] == {"local": {"path": "../../../terraform.sabuho.model-cache.tfstate"}}
    remote = one(data_sources(doc, "terraform_remote_state"))
    assert remote["backend"] == "local"
    assert remote["config"] == {"path": "../../../terraform.sabuho.network.tfstate"}


def test_s3_backend_has_key_per_stack_encryption_and_native_lock(s3_stacks):
    for stack in ("network", "model-cache"):
        backend = load_stack(s3_stacks, stack)["terraform"]["backend"]["s3"]
        assert backend["bucket"] == "acme-tfstate"
        assert backend["key"] == f"paddleocr-efs/sabuho/{stack}.tfstate"
        assert backend["region"] == "us-east-1"
        # No `encrypt`: it would force SSE-S3 over the bucket's SSE-KMS default encryption.
        assert "encrypt" not in backend and "kms_key_id" not in backend
        assert backend["use_lockfile"] is True
        assert "dynamodb_table" not in backend


def test_s3_backend_optional_dynamodb_lock_table(tmp_path):
    stacks = synth_app(tmp_path, settings(backend={"type": "s3", "bucket": "acme-tfstate", "dynamodb_table": "tf-locks"}))
    assert load_stack(stacks, "network")["terraform"]["backend"]["s3"]["dynamodb_table"] == "tf-locks"


def test_cross_stack_references_read_s3_remote_state(s3_stacks):
    doc = load_stack(s3_stacks, "model-cache")
    remote = one(data_sources(doc, "terraform_remote_state"))
    assert remote["backend"] == "s3"
    assert remote["config"]["bucket"] == "acme-tfstate"
    assert remote["config"]["key"] == "paddleocr-efs/sabuho/network.tfstate"
    assert remote["config"]["region"] == "us-east-1"
    # and the references go through it
    fs_target = one(resources(doc, "aws_efs_mount_target"))
    assert "data.terraform_remote_state.cross-stack-reference-input-network.outputs" in fs_target["for_each"]
    network = load_stack(s3_stacks, "network")
    assert any(k.startswith("cross-stack-output-") for k in network["output"])


def test_s3_backend_with_a_key_encrypts_state_with_it(tmp_path):
    arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    stacks = synth_app(tmp_path, settings(backend={"type": "s3", "bucket": "acme-tfstate", "kms_key_id": arn}))
    backend = load_stack(stacks, "network")["terraform"]["backend"]["s3"]
    assert (backend["encrypt"], backend["kms_key_id"]) == (True, arn)


def test_bootstrap_state_is_always_local(s3_stacks):
    assert "local" in load_stack(s3_stacks, "bootstrap")["terraform"]["backend"]


def test_cloud_backend_one_workspace_per_stack(tmp_path):
    stacks = synth_app(tmp_path, settings(backend={"type": "cloud", "organization": "acme"}))
    cloud = load_stack(stacks, "network")["terraform"]["cloud"]
    assert cloud["organization"] == "acme"
    assert cloud["workspaces"] == {"name": "paddleocr-efs-sabuho-network"}
    assert load_stack(stacks, "model-cache")["terraform"]["cloud"]["workspaces"] == {"name": "paddleocr-efs-sabuho-model-cache"}


def test_model_cache_stack_is_the_file_system_alone(default_stacks):
    doc = load_stack(default_stacks, "model-cache")
    types = set(doc["resource"])
    assert types == {"aws_efs_file_system", "aws_efs_backup_policy", "aws_efs_mount_target", "aws_efs_access_point",
                     "aws_efs_file_system_policy", "aws_security_group", "aws_vpc_security_group_ingress_rule",
                     "aws_vpc_security_group_egress_rule"}


def test_roles_and_every_grant_live_in_the_service_stack(default_stacks, service_doc):
    assert sorted(r["name"] for r in resources(service_doc, "aws_iam_role")) == [
        "sabuho-processor-execution-role", "sabuho-processor-task-role"]
    assert set(role_policies(service_doc, "task-role")) == {
        "model-cache-read-write", "documents-queue", "documents-read-input", "documents-results", "task-protection"}


def test_no_stack_depends_on_a_later_one(default_stacks):
    for i, stack in enumerate(STACKS):
        doc = load_stack(default_stacks, stack)
        read = {d.removeprefix("cross-stack-reference-input-") for d in doc.get("data", {}).get("terraform_remote_state", {})}
        assert read <= set(STACKS[:i]), f"{stack} reads {read}"


def test_outputs_for_later_stacks_and_operators(default_stacks):
    assert {"vpc_id", "private_subnet_ids", "task_security_group_id"} <= load_stack(default_stacks, "network")["output"].keys()
    assert {"file_system_id", "file_system_arn", "access_point_id", "access_point_arn",
            "efs_security_group_id"} <= load_stack(default_stacks, "model-cache")["output"].keys()


class TestStateBucket:
    @pytest.fixture(scope="class")
    @classmethod
    def doc(cls, s3_stacks):
        return load_stack(s3_stacks, "bootstrap")

    def test_named_from_backend_config(self, doc):
        assert one(resources(doc, "aws_s3_bucket"))["bucket"] == "acme-tfstate"

    def test_versioned(self, doc):
        assert one(resources(doc, "aws_s3_bucket_versioning"))["versioning_configuration"] == {"status": "Enabled"}

    def test_encrypted(self, doc):
        rule = one(resources(doc, "aws_s3_bucket_server_side_encryption_configuration"))["rule"][0]
        assert rule["apply_server_side_encryption_by_default"]["sse_algorithm"] == "aws:kms"

    def test_public_access_blocked(self, doc):
        block = one(resources(doc, "aws_s3_bucket_public_access_block"))
        assert all(block[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                              "restrict_public_buckets"))

    def test_tls_only_policy(self, doc):
        st = one(policy_statements(doc, one(resources(doc, "aws_s3_bucket_policy"))["policy"]))
        assert st["effect"] == "Deny" and st["actions"] == ["s3:*"]
        assert st["condition"] == [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]


def test_endpoint_setting_points_provider_and_backend_at_a_local_api(tmp_path):
    s = settings(aws_endpoint="http://127.0.0.1:5000", backend={"type": "s3", "bucket": "acme-tfstate"})
    stacks = synth_app(tmp_path, s)
    doc = load_stack(stacks, "network")
    provider = doc["provider"]["aws"][0]
    assert provider["endpoints"][0]["efs"] == "http://127.0.0.1:5000"
    assert provider["max_retries"] == 2
    assert doc["terraform"]["backend"]["s3"]["endpoints"]["s3"] == "http://127.0.0.1:5000"
    assert "endpoints" not in json.dumps(load_stack(synth_app(tmp_path / "d", settings()), "network")["provider"])



def test_execution_role_pulls_from_this_repository_and_writes_this_log_group_only(service_doc):
    got = role_policies(service_doc, "execution-role")
    assert set(got) == {"pull-image", "write-task-logs"}
    pull, token = got["pull-image"]
    assert pull == ("Allow", ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
                    [ref(service_doc, "aws_ecr_repository", "arn")])
    assert token == ("Allow", ["ecr:GetAuthorizationToken"], ["*"])  # no resource-level permissions
    [(_, actions, res)] = got["write-task-logs"]
    assert actions == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert res == ["${aws_cloudwatch_log_group." + next(iter(service_doc["resource"]["aws_cloudwatch_log_group"])) + ".arn}:*"]


def test_task_role_permissions_exactly(service_doc):
    got = role_policies(service_doc, "task-role")
    assert set(got) == {"model-cache-read-write", "documents-queue", "documents-read-input", "documents-results",
                        "task-protection"}
    (effect, actions, res), (_, send, targets) = got["documents-queue"]
    assert effect == "Allow" and actions == ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    assert len(res) == 1 and res[0].startswith("${aws_sqs_queue.documents_queue_") and res[0].endswith(".arn}")
    # Requeues and dead-lettering are sends: to the jobs queue and the DLQ only.
    assert send == ["sqs:SendMessage"]
    assert [t.split(".")[1].split("_")[1] for t in targets] == ["queue", "dlq"]
    # The bucket is versioned: event records carry versionId, read as s3:GetObjectVersion (GetObject
    # API reference, "Permissions"). ListBucket makes a deleted document 404, not 403 (HeadObject).
    (_, actions, res), (_, listing, bucket) = got["documents-read-input"]
    assert actions == ["s3:GetObject", "s3:GetObjectVersion"] and res[0].endswith("/incoming/*")
    assert listing == ["s3:ListBucket"] and bucket[0].endswith(".arn}") and "/" not in bucket[0]
    (_, actions, res), (_, listing, bucket) = got["documents-results"]
    assert actions == ["s3:GetObject", "s3:PutObject"] and res[0].endswith("/results/*")
    assert listing == ["s3:ListBucket"] and bucket[0].endswith(".arn}")
    assert all("*" not in a for statements in got.values() for _, acts, _ in statements for a in acts)


def test_operator_outputs(service_doc):
    assert {"cluster_name", "service_name", "log_group", "dashboard_name", "queue_url", "dlq_url", "input_bucket",
            "output_bucket", "image_uri", "task_role_arn", "execution_role_arn"} <= service_doc["output"].keys()
