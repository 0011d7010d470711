"""The service stack: task definition, service, image hook, documents, scaling and monitoring."""

import json
import re
import shutil
from pathlib import Path

import pytest

from constructs_lib.image_repository import content_hash
from constructs_lib.service import IMAGE_VOLUMES_LABEL
from tests.synth import data_sources, load_stack, one, policy_statements, ref, resources, settings, synth_app


@pytest.fixture(scope="module")
def doc(default_stacks):
    return load_stack(default_stacks, "service")


@pytest.fixture(scope="module")
def containers(doc):
    task = one(resources(doc, "aws_ecs_task_definition"))
    return {c["name"]: c for c in json.loads(task["container_definitions"])}


# -- task definition -------------------------------------------------------------------------

def test_task_is_fargate_awsvpc_sized_for_paddleocr(doc):
    task = one(resources(doc, "aws_ecs_task_definition"))
    assert task["requires_compatibilities"] == ["FARGATE"] and task["network_mode"] == "awsvpc"
    assert (task["cpu"], task["memory"]) == ("2048", "4096")
    assert task["family"] == "sabuho-processor"
    assert task["runtime_platform"] == {"operating_system_family": "LINUX", "cpu_architecture": "X86_64"}


def test_efs_volume_uses_tls_iam_and_the_access_point_without_root_directory(doc):
    volume = next(v for v in one(resources(doc, "aws_ecs_task_definition"))["volume"] if v["name"] == "model-cache")
    efs = volume["efs_volume_configuration"]
    assert efs["transit_encryption"] == "ENABLED"
    assert efs["authorization_config"]["iam"] == "ENABLED"
    assert "cross-stack-reference-input-model-cache" in efs["authorization_config"]["access_point_id"]
    assert "cross-stack-reference-input-model-cache" in efs["file_system_id"]
    assert "root_directory" not in efs


def test_warmer_then_worker_depends_on_success(containers):
    assert containers["model-warmer"]["essential"] is False
    assert containers["model-warmer"]["command"] == ["warm"]
    assert containers["ocr-worker"]["essential"] is True
    assert containers["ocr-worker"]["command"] == ["worker"]
    assert containers["ocr-worker"]["dependsOn"] == [{"containerName": "model-warmer", "condition": "SUCCESS"}]


def test_worker_mounts_the_cache_read_only_and_the_warmer_read_write(containers):
    def cache_mount(name):
        return next(m for m in containers[name]["mountPoints"] if m["sourceVolume"] == "model-cache")

    assert cache_mount("ocr-worker") == {"sourceVolume": "model-cache", "containerPath": "/var/cache/paddlex",
                                         "readOnly": True}
    assert cache_mount("model-warmer")["readOnly"] is False


def test_containers_run_as_the_access_point_user_with_read_only_root(containers):
    for c in containers.values():
        assert c["user"] == "1000:1000"
        assert c["readonlyRootFilesystem"] is True
        assert {"sourceVolume": "scratch", "containerPath": "/tmp", "readOnly": False} in c["mountPoints"]


def test_containers_get_the_cache_home_and_queue_settings(containers):
    env = {e["name"]: e["value"] for e in containers["ocr-worker"]["environment"]}
    assert env["PADDLE_PDX_CACHE_HOME"] == "/var/cache/paddlex"
    assert env["OCR_OUTPUT_PREFIX"] == "results/"
    assert env["OCR_VISIBILITY_TIMEOUT"] == "120"  # the lease, renewed while a document is worked on
    assert env["OCR_DLQ_URL"].startswith("${aws_sqs_queue.documents_dlq_")
    assert (env["OCR_MAX_FAILURES"], env["OCR_MAX_DOCUMENT_SECONDS"], env["OCR_STOP_SECONDS"]) == ("3", "600", "120")
    assert env["OCR_QUEUE_URL"].startswith("${aws_sqs_queue.")


def test_logs_go_to_the_family_log_group(doc, containers):
    group = one(resources(doc, "aws_cloudwatch_log_group"))
    assert group["name"] == "/ecs/sabuho-processor" and group["retention_in_days"] == 365
    assert containers["ocr-worker"]["logConfiguration"]["logDriver"] == "awslogs"


# -- cluster and service ---------------------------------------------------------------------

def test_cluster_has_container_insights(doc):
    cluster = one(resources(doc, "aws_ecs_cluster"))
    assert cluster["name"] == "sabuho-cluster"
    assert cluster["setting"] == [{"name": "containerInsights", "value": "enabled"}]


def test_service_private_pinned_platform_circuit_breaker(doc):
    svc = one(resources(doc, "aws_ecs_service"))
    assert svc["name"] == "sabuho-processor-service" and svc["launch_type"] == "FARGATE"
    assert svc["platform_version"] == "1.4.0"
    assert svc["network_configuration"]["assign_public_ip"] is False
    assert "network_task-sg" in svc["network_configuration"]["security_groups"][0]
    assert svc["deployment_circuit_breaker"] == {"enable": True, "rollback": True}
    assert (svc["deployment_minimum_healthy_percent"], svc["deployment_maximum_percent"]) == (100, 200)
    assert svc["desired_count"] == 0 and svc["lifecycle"]["ignore_changes"] == ["desired_count"]
    assert svc["enable_execute_command"] is False


def test_worker_health_check_fails_when_the_loop_stops_beating(containers):
    # ECS ignores the image's HEALTHCHECK; only this runs (AWS::ECS::TaskDefinition HealthCheck).
    check = containers["ocr-worker"]["healthCheck"]
    assert check["command"] == ["CMD", "ocr-worker", "health"]
    assert 5 <= check["interval"] <= 300 and 2 <= check["timeout"] <= 60 and 1 <= check["retries"] <= 10
    assert 0 <= check["startPeriod"] <= 300
    assert "healthCheck" not in containers["model-warmer"]  # it exits; a check would never pass


def test_containers_run_an_init_process_and_declare_the_image_volume_they_write(containers):
    for c in containers.values():
        assert c["linuxParameters"] == {"initProcessEnabled": True}
        assert c["dockerLabels"] == {"org.paddleocr-efs.image-volumes": "/tmp"}
    rule = (Path(__file__).parent / "policies" / "bind_mount_writable_by_task_user.py").read_text()
    assert f'IMAGE_VOLUMES_LABEL = "{IMAGE_VOLUMES_LABEL}"' in rule  # the checkov rule reads this key


def test_ecs_exec_makes_root_file_systems_writable_for_the_ssm_agent(tmp_path):
    doc = load_stack(synth_app(tmp_path, settings(service={"enable_exec": True})), "service")
    task = one(resources(doc, "aws_ecs_task_definition"))
    for c in json.loads(task["container_definitions"]):
        assert c["readonlyRootFilesystem"] is False and c["linuxParameters"]["initProcessEnabled"] is True


def test_ecr_repository_can_be_destroyed_with_its_images(doc):
    assert one(resources(doc, "aws_ecr_repository"))["force_delete"] is True


def test_document_buckets_keep_their_objects_unless_force_destroy_is_set(doc, tmp_path):
    buckets = resources(doc, "aws_s3_bucket")
    assert len(buckets) == 2 and all(b["force_destroy"] is False for b in buckets)
    forced = load_stack(synth_app(tmp_path, settings(documents={"force_destroy": True})), "service")
    assert all(b["force_destroy"] is True for b in resources(forced, "aws_s3_bucket"))


def test_ecs_exec_adds_only_the_ssm_channel_permissions(tmp_path):
    doc = load_stack(synth_app(tmp_path, settings(service={"enable_exec": True})), "service")
    assert one(resources(doc, "aws_ecs_service"))["enable_execute_command"] is True
    policy = next(p for p in resources(doc, "aws_iam_role_policy") if p["name"] == "ecs-exec")
    assert one(policy_statements(doc, policy["policy"]))["actions"] == [
        "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel"]


# -- task role permissions -------------------------------------------------------------------

def role_policies(doc, role):
    return {policy["name"]: [(st["effect"], st["actions"], st["resources"]) for st in policy_statements(doc, policy["policy"])]
            for policy in resources(doc, "aws_iam_role_policy") if role in policy["role"]}


def test_execution_role_pulls_from_this_repository_and_writes_this_log_group_only(doc):
    got = role_policies(doc, "execution-role")
    assert set(got) == {"pull-image", "write-task-logs"}
    pull, token = got["pull-image"]
    assert pull == ("Allow", ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
                    [ref(doc, "aws_ecr_repository", "arn")])
    assert token == ("Allow", ["ecr:GetAuthorizationToken"], ["*"])  # no resource-level permissions
    [(_, actions, res)] = got["write-task-logs"]
    assert actions == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert res == ["${aws_cloudwatch_log_group." + next(iter(doc["resource"]["aws_cloudwatch_log_group"])) + ".arn}:*"]


def test_s3_model_source_gets_a_read_grant_on_its_prefix_only(tmp_path):
    doc = load_stack(synth_app(tmp_path, settings(models={"source": "s3://acme-models/paddle/v3/"})), "service")
    [(effect, actions, res)] = role_policies(doc, "task-role")["model-source-read"]
    assert (effect, actions) == ("Allow", ["s3:GetObject"])
    assert res == ["arn:${data.aws_partition.model-source-partition.partition}:s3:::acme-models/paddle/v3/*"]


def test_task_role_permissions_exactly(doc):
    got = role_policies(doc, "task-role")
    assert set(got) == {"documents-queue", "documents-read-input", "documents-write-output", "task-protection"}
    (effect, actions, res), (_, send, targets) = got["documents-queue"]
    assert effect == "Allow" and actions == ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    assert len(res) == 1 and res[0].startswith("${aws_sqs_queue.documents_queue_") and res[0].endswith(".arn}")
    # Requeues and dead-lettering are sends: to the jobs queue and the DLQ only.
    assert send == ["sqs:SendMessage"]
    assert [t.split(".")[1].split("_")[1] for t in targets] == ["queue", "dlq"]
    [(_, actions, res)] = got["documents-read-input"]
    assert actions == ["s3:GetObject"] and res[0].endswith("/incoming/*")
    [(_, actions, res)] = got["documents-write-output"]
    assert actions == ["s3:PutObject"] and res[0].endswith("/results/*")
    assert all("*" not in a for statements in got.values() for _, acts, _ in statements for a in acts)


# -- document pipeline -----------------------------------------------------------------------

def test_queue_and_dlq_are_encrypted_with_redrive(doc):
    queues = {q["name"]: q for q in resources(doc, "aws_sqs_queue")}
    jobs, dlq = queues["sabuho-paddleocr-jobs"], queues["sabuho-paddleocr-jobs-dlq"]
    assert jobs["sqs_managed_sse_enabled"] is True and dlq["sqs_managed_sse_enabled"] is True
    redrive = json.loads(jobs["redrive_policy"])
    # Only crashes reach the redrive: every handled outcome deletes the message it received.
    assert redrive["maxReceiveCount"] == 5 and redrive["deadLetterTargetArn"].startswith("${aws_sqs_queue.")
    assert jobs["visibility_timeout_seconds"] == 120  # the worker's lease


def test_queue_and_dlq_refuse_requests_without_tls(doc):
    policies = resources(doc, "aws_sqs_queue_policy")
    assert len(policies) == 2  # the jobs queue and the dead-letter queue
    for policy in policies:
        deny = next(st for st in policy_statements(doc, policy["policy"]) if st["sid"] == "DenyWithoutTls")
        assert deny["effect"] == "Deny" and deny["actions"] == ["sqs:*"]
        assert deny["condition"] == [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]


def test_input_bucket_notifies_the_queue_on_the_input_prefix(doc):
    note = one(resources(doc, "aws_s3_bucket_notification"))
    [queue] = note["queue"]
    assert queue["events"] == ["s3:ObjectCreated:*"] and queue["filter_prefix"] == "incoming/"
    policies = resources(doc, "aws_sqs_queue_policy")
    statements = policy_statements(doc, next(p for p in policies if "dlq" not in p["queue_url"])["policy"])
    send = next(s for s in statements if s["sid"] == "InputBucketNotifications")
    assert send["principals"] == [{"type": "Service", "identifiers": ["s3.amazonaws.com"]}]
    assert {c["variable"] for c in send["condition"]} == {"aws:SourceArn", "aws:SourceAccount"}


def test_buckets_are_hardened(doc):
    assert len(resources(doc, "aws_s3_bucket")) == 2
    for rtype in ("aws_s3_bucket_versioning", "aws_s3_bucket_server_side_encryption_configuration",
                  "aws_s3_bucket_public_access_block", "aws_s3_bucket_policy"):
        assert len(resources(doc, rtype)) == 2, rtype


def test_existing_input_bucket_is_adopted(tmp_path):
    doc = load_stack(synth_app(tmp_path, settings(documents={"existing_input_bucket": "scans"})), "service")
    assert len(resources(doc, "aws_s3_bucket")) == 1  # the output bucket only
    assert one(data_sources(doc, "aws_s3_bucket"))["bucket"] == "scans"


# -- image ------------------------------------------------------------------------------------

def test_ecr_repository_is_immutable_scanned_encrypted_and_pruned(doc):
    repo = one(resources(doc, "aws_ecr_repository"))
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    assert repo["image_scanning_configuration"] == {"scan_on_push": True}
    assert repo["encryption_configuration"] == [{"encryption_type": "KMS"}]
    rule = json.loads(one(resources(doc, "aws_ecr_lifecycle_policy"))["policy"])["rules"][0]
    assert rule["selection"]["countNumber"] == 10 and rule["action"] == {"type": "expire"}


def test_build_hook_runs_the_image_script_tagged_with_the_content_hash(doc, containers):
    hook = one(resources(doc, "terraform_data"))
    tag = hook["triggers_replace"]["image_hash"]
    [exec_] = hook["provisioner"]
    assert exec_["local-exec"]["command"] == "./build_and_push.sh"
    # The build context is the image_dir given to the stack, copied into the stack as an asset.
    assert exec_["local-exec"]["working_dir"] == f"assets/image_context_5EEBCE54/{tag}"
    assert hook["triggers_replace"]["repository"].startswith("${aws_ecr_repository.")  # a rename re-runs it
    assert exec_["local-exec"]["environment"]["CONTAINER_CLI"] == "docker"
    assert containers["ocr-worker"]["image"].endswith(f":{tag}")
    [dependency] = one(resources(doc, "aws_ecs_task_definition"))["depends_on"]
    assert dependency.startswith("terraform_data.image_build_")  # pushed before the task is registered


def test_image_uri_option_skips_the_hook(tmp_path):
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ocr:ci-42"
    doc = load_stack(synth_app(tmp_path, settings(image={"build": False, "image_uri": uri})), "service")
    assert resources(doc, "terraform_data") == []
    task = one(resources(doc, "aws_ecs_task_definition"))
    assert {c["image"] for c in json.loads(task["container_definitions"])} == {uri}


def test_podman_is_selectable(tmp_path):
    doc = load_stack(synth_app(tmp_path, settings(image={"container_cli": "podman"})), "service")
    assert one(resources(doc, "terraform_data"))["provisioner"][0]["local-exec"]["environment"]["CONTAINER_CLI"] == "podman"


def test_hook_trigger_changes_if_and_only_if_a_file_in_image_changes(tmp_path):
    context = tmp_path / "image"
    shutil.copytree(Path(__file__).resolve().parent.parent / "image", context,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    original = content_hash(context)
    (context / "ocr_worker" / "__pycache__").mkdir(exist_ok=True)
    (context / "ocr_worker" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"cache")
    (context / ".pytest_cache").mkdir()
    (context / "Dockerfile").touch()  # a new mtime is not a change
    assert content_hash(context) == original
    (context / "Dockerfile").write_text((context / "Dockerfile").read_text() + "\n# changed\n")
    changed = content_hash(context)
    assert changed != original
    (context / "Dockerfile").write_text((context / "Dockerfile").read_text().removesuffix("\n# changed\n"))
    assert content_hash(context) == original
    (context / "requirements.txt").rename(context / "requirements2.txt")
    assert content_hash(context) != original


# -- scaling ----------------------------------------------------------------------------------

def test_scaling_from_zero_to_max(doc):
    target = one(resources(doc, "aws_appautoscaling_target"))
    assert (target["min_capacity"], target["max_capacity"]) == (0, 10)
    assert target["scalable_dimension"] == "ecs:service:DesiredCount"
    policies = {p["policy_type"]: p for p in resources(doc, "aws_appautoscaling_policy")}
    tracking = policies["TargetTrackingScaling"]["target_tracking_scaling_policy_configuration"]
    assert tracking["target_value"] == 4


def test_backlog_per_task_counts_in_flight_messages(doc):
    tracking = next(p for p in resources(doc, "aws_appautoscaling_policy") if p["policy_type"] == "TargetTrackingScaling")
    metrics = {m["id"]: m for m in tracking["target_tracking_scaling_policy_configuration"][
        "customized_metric_specification"]["metrics"]}
    assert metrics["inflight"]["metric_stat"]["metric"]["metric_name"] == "ApproximateNumberOfMessagesNotVisible"
    assert metrics["backlog"]["expression"] == "(visible + inflight) / IF(running > 0, running, 1)"


def test_scale_from_zero_sets_exactly_one_task_only_while_none_is_wanted(doc):
    step = next(p for p in resources(doc, "aws_appautoscaling_policy") if p["policy_type"] == "StepScaling")[
        "step_scaling_policy_configuration"]
    # ExactCapacity 1, not ChangeInCapacity +1: repeated alarms while the task starts cannot overshoot.
    assert step["adjustment_type"] == "ExactCapacity"
    assert step["step_adjustment"] == [{"metric_interval_lower_bound": "0", "scaling_adjustment": 1}]
    wake = next(a for a in resources(doc, "aws_cloudwatch_metric_alarm") if a["alarm_name"].endswith("no-tasks"))
    assert wake["alarm_actions"][0].startswith("${aws_appautoscaling_policy.")
    queries = {q["id"]: q for q in wake["metric_query"]}
    assert queries["desired"]["metric"]["metric_name"] == "DesiredTaskCount"
    assert queries["waiting"]["expression"] == "IF(FILL(desired, 0) == 0 AND visible > 0, 1, 0)"


def test_worker_stop_timeout_is_fargates_maximum(containers):
    assert containers["ocr-worker"]["stopTimeout"] == 120


def test_task_role_may_protect_only_tasks_of_this_cluster(doc):
    [(effect, actions, res)] = role_policies(doc, "task-role")["task-protection"]
    assert (effect, actions) == ("Allow", ["ecs:UpdateTaskProtection"])
    [arn] = res
    assert re.fullmatch(r"arn:\$\{data\.aws_partition\.\w+\.partition\}:ecs:\$\{data\.aws_region\.\w+\.id\}:"
                        r"\$\{data\.aws_caller_identity\.\w+\.account_id\}:task/", arn.split("${aws_ecs_cluster")[0])
    assert arn.endswith(ref(doc, "aws_ecs_cluster", "name") + "/*")


def test_spot_runs_three_tasks_in_four_on_fargate_spot(doc, tmp_path):
    assert one(resources(doc, "aws_ecs_service"))["launch_type"] == "FARGATE"
    spot = load_stack(synth_app(tmp_path, settings(service={"spot": True})), "service")
    service = one(resources(spot, "aws_ecs_service"))
    assert "launch_type" not in service
    assert service["capacity_provider_strategy"] == [{"capacity_provider": "FARGATE", "weight": 1},
                                                     {"capacity_provider": "FARGATE_SPOT", "weight": 3}]
    assert one(resources(spot, "aws_ecs_cluster_capacity_providers"))["capacity_providers"] == ["FARGATE",
                                                                                              "FARGATE_SPOT"]


def test_tasks_stopping_with_a_failed_container_notify_the_alarm_topic(doc):
    rule = one(resources(doc, "aws_cloudwatch_event_rule"))
    pattern = json.loads(rule["event_pattern"])
    assert pattern["source"] == ["aws.ecs"] and pattern["detail-type"] == ["ECS Task State Change"]
    assert pattern["detail"]["lastStatus"] == ["STOPPED"]
    assert pattern["detail"]["containers"] == {"exitCode": [{"anything-but": 0}]}
    assert pattern["detail"]["group"] == ["service:" + ref(doc, "aws_ecs_service", "name")]
    target = one(resources(doc, "aws_cloudwatch_event_target"))
    assert target["arn"] == ref(doc, "aws_sns_topic", "arn")
    # The topic lets this rule publish, and the key lets EventBridge encrypt.
    statements = {st["sid"]: st for st in policy_statements(doc, one(resources(doc, "aws_sns_topic_policy"))["policy"])}
    events = statements["TaskFailedRulePublishes"]
    assert events["principals"] == [{"type": "Service", "identifiers": ["events.amazonaws.com"]}]
    assert events["condition"][0]["values"] == [ref(doc, "aws_cloudwatch_event_rule", "arn")]
    assert statements["DenyWithoutTls"]["effect"] == "Deny"
    key = {st["Sid"]: st for st in json.loads(one(resources(doc, "aws_kms_key"))["policy"])["Statement"]}
    assert key["EventBridgePublish"]["Principal"] == {"Service": "events.amazonaws.com"}


# -- monitoring -------------------------------------------------------------------------------

def test_alarm_topic_uses_a_rotated_customer_key_that_cloudwatch_may_use_for_this_account_only(doc):
    topic = one(resources(doc, "aws_sns_topic"))
    key = one(resources(doc, "aws_kms_key"))
    assert topic["kms_master_key_id"] == ref(doc, "aws_kms_key", "arn")  # never alias/aws/sns
    assert key["enable_key_rotation"] is True
    statements = {st["Sid"]: st for st in json.loads(key["policy"])["Statement"]}
    assert statements["AccountAdministers"]["Principal"]["AWS"].endswith(":root")
    cloudwatch = statements["CloudWatchAlarmsPublish"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": "${data.aws_caller_identity.account.account_id}"}}


def test_alarms_go_to_the_topic(doc):
    alarms = {a["alarm_name"].removeprefix("sabuho-paddleocr-"): a for a in resources(doc, "aws_cloudwatch_metric_alarm")}
    assert {"dlq-not-empty", "efs-io-limit", "tasks-below-desired"} <= alarms.keys()
    assert "efs-burst-credits" not in alarms  # elastic mode has no credits
    assert alarms["dlq-not-empty"]["threshold"] == 0 and alarms["dlq-not-empty"]["comparison_operator"] == "GreaterThanThreshold"
    assert alarms["efs-io-limit"]["metric_name"] == "PercentIOLimit"
    topic_arn = "${aws_sns_topic." + next(iter(doc["resource"]["aws_sns_topic"])) + ".arn}"
    for name in ("dlq-not-empty", "efs-io-limit", "tasks-below-desired"):
        assert alarms[name]["alarm_actions"] == [topic_arn] == alarms[name]["ok_actions"]
    assert resources(doc, "aws_sns_topic_subscription") == []


def test_bursting_mode_adds_the_credit_alarm_and_email_subscribes(tmp_path):
    doc = load_stack(synth_app(tmp_path, settings(model_cache={"throughput_mode": "bursting"},
                                                  service={"alarm_email": "ops@example.com"})), "service")
    assert any(a["alarm_name"].endswith("efs-burst-credits") for a in resources(doc, "aws_cloudwatch_metric_alarm"))
    assert one(resources(doc, "aws_sns_topic_subscription"))["endpoint"] == "ops@example.com"


def test_dashboard_has_the_guides_efs_metrics_queue_tasks_cpu_memory(doc):
    body = json.loads(one(resources(doc, "aws_cloudwatch_dashboard"))["dashboard_body"])
    metrics = {m[1] for w in body["widgets"] for m in w["properties"]["metrics"]}
    assert {"ClientConnections", "DataReadIOBytes", "PermittedThroughput", "MeteredIOBytes",
            "ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "RunningTaskCount",
            "CPUUtilization", "MemoryUtilization"} <= metrics


def test_operator_outputs(doc):
    assert {"cluster_name", "service_name", "log_group", "dashboard_name", "queue_url", "dlq_url", "input_bucket",
            "output_bucket", "image_uri"} <= doc["output"].keys()
