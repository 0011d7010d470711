"""Monitoring: alarms that can notify (own topic key), the task-failed rule, the dashboard."""

import json

import pytest

from constructs_lib.monitoring import MonitoringProps
from tests.synth import assert_refused, load_stack, one, policy_statements, ref, resources, settings, synth_app


def test_tasks_stopping_with_a_failed_container_notify_the_alarm_topic(service_doc):
    rule = one(resources(service_doc, "aws_cloudwatch_event_rule"))
    pattern = json.loads(rule["event_pattern"])
    assert pattern["source"] == ["aws.ecs"] and pattern["detail-type"] == ["ECS Task State Change"]
    assert pattern["detail"]["lastStatus"] == ["STOPPED"]
    assert pattern["detail"]["containers"] == {"exitCode": [{"anything-but": 0}]}
    # Stops ECS or a person asked for never alarm, whatever the exit code (SIGKILL after the stop
    # timeout is 137): scale-in and deployments, Spot, StopTask ("Amazon ECS task state change
    # events", stopCode). A crash (EssentialContainerExited) or a failed start still does.
    assert pattern["detail"]["stopCode"] == [{"anything-but": ["ServiceSchedulerInitiated", "SpotInterruption",
                                                               "TerminationNotice", "UserInitiated"]}]
    assert pattern["detail"]["group"] == ["service:" + ref(service_doc, "aws_ecs_service", "name")]
    target = one(resources(service_doc, "aws_cloudwatch_event_target"))
    assert target["arn"] == ref(service_doc, "aws_sns_topic", "arn")
    # The topic lets this rule publish (tests/test_alarm_topic.py checks the key lets EventBridge encrypt).
    topic_policy = one(resources(service_doc, "aws_sns_topic_policy"))["policy"]
    events = {st["sid"]: st for st in policy_statements(service_doc, topic_policy)}["EventRulesPublish"]
    assert events["condition"][0]["values"] == [ref(service_doc, "aws_cloudwatch_event_rule", "arn")]


def test_alarms_go_to_the_topic(service_doc):
    alarms = {a["alarm_name"].removeprefix("sabuho-paddleocr-"): a for a in resources(service_doc, "aws_cloudwatch_metric_alarm")}
    assert {"dlq-not-empty", "efs-io-limit", "tasks-below-desired"} <= alarms.keys()
    assert "efs-burst-credits" not in alarms  # elastic mode has no credits
    assert alarms["dlq-not-empty"]["threshold"] == 0 and alarms["dlq-not-empty"]["comparison_operator"] == "GreaterThanThreshold"
    assert alarms["efs-io-limit"]["metric_name"] == "PercentIOLimit"
    topic_arn = "${aws_sns_topic." + next(iter(service_doc["resource"]["aws_sns_topic"])) + ".arn}"
    for name in ("dlq-not-empty", "efs-io-limit", "tasks-below-desired"):
        assert alarms[name]["alarm_actions"] == [topic_arn] == alarms[name]["ok_actions"]
    assert resources(service_doc, "aws_sns_topic_subscription") == []


def test_bursting_mode_adds_the_credit_alarm_and_email_subscribes(tmp_path):
    doc = load_stack(synth_app(tmp_path, settings(model_cache={"throughput_mode": "bursting"},
                                                  monitoring={"alarm_email": "ops@example.com"})), "service")
    burst = one([a for a in resources(doc, "aws_cloudwatch_metric_alarm") if a["alarm_name"].endswith("burst-credits")])
    assert "count" not in burst and burst["metric_name"] == "BurstCreditBalance"
    assert one(resources(doc, "aws_sns_topic_subscription"))["endpoint"] == "ops@example.com"


def test_an_adopted_file_systems_own_throughput_mode_decides_the_credit_alarm(tmp_path):
    """The settings' throughput_mode describes a file system this project creates; an adopted one
    has its own, read by Terraform: the alarm exists exactly when that one bursts."""
    stacks = synth_app(tmp_path, settings(model_cache={"existing_file_system_id": "fs-0123456789abcdef0",
                                                       "existing_security_group_id": "sg-0123456789abcdef0"}))
    doc = load_stack(stacks, "service")
    burst = one([a for a in resources(doc, "aws_cloudwatch_metric_alarm") if a["alarm_name"].endswith("burst-credits")])
    # The mode crosses from the model-cache stack, where the data source reads the file system.
    cache = load_stack(stacks, "model-cache")
    [fs] = cache["data"]["aws_efs_file_system"]
    assert f"data.aws_efs_file_system.{fs}.throughput_mode" in json.dumps(cache["output"])
    assert burst["count"].startswith("${(data.terraform_remote_state.") and burst["count"].endswith(
        'throughput_mode == "bursting") ? 1 : 0}')


def test_dashboard_has_the_guides_efs_metrics_queue_tasks_cpu_memory(service_doc):
    body = json.loads(one(resources(service_doc, "aws_cloudwatch_dashboard"))["dashboard_body"])
    metrics = {m[1] for w in body["widgets"] for m in w["properties"]["metrics"] if len(m) > 1}
    assert {"ClientConnections", "DataReadIOBytes", "PermittedThroughput", "MeteredIOBytes",
            "ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "RunningTaskCount",
            "CPUUtilization", "MemoryUtilization"} <= metrics


def test_throughput_widget_plots_bytes_per_second_on_both_lines(service_doc):
    """"Amazon CloudWatch metrics for Amazon EFS": PermittedThroughput is bytes/s; MeteredIOBytes
    counts bytes, so its throughput is SUM / PERIOD (its Average is bytes per operation)."""
    body = json.loads(one(resources(service_doc, "aws_cloudwatch_dashboard"))["dashboard_body"])
    [widget] = [w["properties"] for w in body["widgets"] if "PermittedThroughput" in str(w)]
    permitted, metered, rate = widget["metrics"]
    assert permitted[1] == "PermittedThroughput" and widget["stat"] == "Average" and "stat" not in permitted[-1]
    assert metered[1] == "MeteredIOBytes" and metered[-1]["stat"] == "Sum" and metered[-1]["visible"] is False
    assert rate == [{"expression": f"{metered[-1]['id']} / PERIOD({metered[-1]['id']})", "id": "metered_rate",
                     "label": "Metered"}]


@pytest.mark.parametrize("props,message", [
    (dict(alarm_email="ops.example.com"), "alarm_email: 'ops.example.com' is not an e-mail address"),
    (dict(alarm_email="ops@example"), "alarm_email: 'ops@example' is not an e-mail address"),
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html
    (dict(name="ocr alarms"), "name: 'ocr alarms' is not valid"),
], ids=["no at sign", "no domain", "space in name"])
def test_props_refuse_what_sns_and_cloudwatch_refuse(props, message):
    assert_refused(MonitoringProps, props, message)
