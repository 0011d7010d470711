"""Fargate's rules as pure functions of container states, each checked in milliseconds. The
podman tier (test_supervisor.py) checks that the supervisor applies them to real containers.
Pages: the ECS task definition parameters (dependsOn, essential, stopTimeout, healthCheck) and
the API_HealthCheck reference, cited in fargate_local/rules.py."""

import pytest

from fargate_local.rules import (
    DEFAULT_STOP_TIMEOUT,
    HEALTHY,
    MET,
    PENDING,
    RUNNING,
    STOPPED,
    UNHEALTHY,
    UNKNOWN,
    WAIT,
    ContainerState,
    HealthCheck,
    dependency,
    stop_order,
    stop_timeout,
    task_stop_reason,
)
from fargate_local.taskdef import TaskError


def state(name, status=PENDING, exit_code=None, health=UNKNOWN, **definition):
    return ContainerState({"name": name, **definition}, f"engine-{name}", status, exit_code, health)


def states(*items):
    return {s.definition["name"]: s for s in items}


def needs(condition, **other):
    main = state("main", dependsOn=[{"containerName": "dep", "condition": condition}])
    return dependency(main, states(main, state("dep", **other)))


@pytest.mark.parametrize("condition, other, verdict", [
    ("START", {}, WAIT),
    ("START", {"status": RUNNING}, MET),
    ("START", {"status": STOPPED, "exit_code": 1}, MET),
    ("COMPLETE", {"status": RUNNING}, WAIT),
    ("COMPLETE", {"status": STOPPED, "exit_code": 3}, MET),
    ("SUCCESS", {"status": RUNNING}, WAIT),
    ("SUCCESS", {"status": STOPPED, "exit_code": 0}, MET),
    ("SUCCESS", {"status": STOPPED, "exit_code": 13}, "dep exited 13, main needs SUCCESS"),
    ("HEALTHY", {"status": RUNNING}, WAIT),
    ("HEALTHY", {"status": RUNNING, "health": HEALTHY}, MET),
    ("HEALTHY", {"status": RUNNING, "health": UNHEALTHY}, "dep will not become HEALTHY"),
    ("HEALTHY", {"status": STOPPED, "exit_code": 0}, "dep will not become HEALTHY"),
])
def test_depends_on_conditions(condition, other, verdict):
    assert needs(condition, **other) == verdict


def test_every_condition_must_hold_and_the_first_that_never_can_is_named():
    main = state("main", dependsOn=[{"containerName": "a", "condition": "START"},
                                    {"containerName": "b", "condition": "SUCCESS"}])
    assert dependency(main, states(main, state("a", RUNNING), state("b", RUNNING))) == WAIT
    assert dependency(main, states(main, state("a", RUNNING), state("b", STOPPED, 0))) == MET
    assert dependency(main, states(main, state("a", RUNNING), state("b", STOPPED, 2))).startswith("b exited 2")


def test_no_depends_on_is_met_at_once_and_an_unknown_condition_is_an_error():
    assert dependency(state("main"), states(state("main"))) == MET
    with pytest.raises(TaskError, match="unknown dependsOn condition WHENEVER"):
        needs("WHENEVER", status=RUNNING)


def test_an_essential_exit_stops_the_task_whatever_its_code():
    assert task_stop_reason(states(state("app", STOPPED, 0)), service=True) == "essential container app exited 0"
    assert task_stop_reason(states(state("app", STOPPED, 1)), service=False) == "essential container app exited 1"


def test_containers_are_essential_unless_marked_otherwise():
    warmer = state("warmer", STOPPED, 0, essential=False)
    assert task_stop_reason(states(warmer, state("app", RUNNING)), service=True) is None


def test_unhealthy_essential_stops_a_service_task_not_a_run_task():
    group = states(state("app", RUNNING, health=UNHEALTHY))
    assert task_stop_reason(group, service=True) == "essential container app is UNHEALTHY"
    assert task_stop_reason(group, service=False) is None
    assert task_stop_reason(states(state("side", RUNNING, health=UNHEALTHY, essential=False)), service=True) is None


def test_stop_order_puts_dependents_before_what_they_depend_on():
    containers = [{"name": "warmer"},
                  {"name": "worker", "dependsOn": [{"containerName": "warmer", "condition": "SUCCESS"}]},
                  {"name": "sidecar", "dependsOn": [{"containerName": "worker", "condition": "START"}]},
                  {"name": "alone"}]
    order = stop_order(containers)
    assert sorted(order) == ["alone", "sidecar", "warmer", "worker"]
    assert order.index("sidecar") < order.index("worker") < order.index("warmer")


def test_stop_order_survives_a_dependency_cycle():
    containers = [{"name": "a", "dependsOn": [{"containerName": "b"}]}, {"name": "b", "dependsOn": [{"containerName": "a"}]}]
    assert sorted(stop_order(containers)) == ["a", "b"]


def test_stop_timeout_defaults_to_fargates_30_seconds():
    assert DEFAULT_STOP_TIMEOUT == 30
    assert stop_timeout({}) == 30 and stop_timeout({"stopTimeout": 120}) == 120


def test_health_check_defaults_and_command_forms():
    check = HealthCheck.of({"healthCheck": {"command": ["CMD-SHELL", "curl -f localhost"]}})
    assert check == HealthCheck(("/bin/sh", "-c", "curl -f localhost"), 30, 5, 3, 0)
    assert HealthCheck.of({"healthCheck": {"command": ["CMD", "test", "-f", "/ok"], "interval": 5}}).command == (
        "test", "-f", "/ok")
    assert HealthCheck.of({}) is None  # the image's own HEALTHCHECK is ignored


def test_health_turns_unhealthy_after_retries_consecutive_failures():
    check = HealthCheck(("true",), 5, 2, 3, 0)
    health, failures = UNKNOWN, 0
    for expected in (UNKNOWN, UNKNOWN, UNHEALTHY):
        health, failures = check.after(health, failures, ok=False, since_start=100)
        assert health == expected


def test_a_pass_is_healthy_at_once_and_resets_the_failures():
    check = HealthCheck(("true",), 5, 2, 3, 0)
    assert check.after(UNKNOWN, 2, ok=True, since_start=1) == (HEALTHY, 0)
    assert check.after(HEALTHY, 0, ok=False, since_start=100) == (HEALTHY, 1)


def test_failures_inside_the_start_period_do_not_count_but_a_pass_does():
    check = HealthCheck(("true",), 5, 2, 1, start_period=60)
    assert check.after(UNKNOWN, 0, ok=False, since_start=59) == (UNKNOWN, 0)
    assert check.after(UNKNOWN, 0, ok=True, since_start=10) == (HEALTHY, 0)
    assert check.after(UNKNOWN, 0, ok=False, since_start=61) == (UNHEALTHY, 1)
