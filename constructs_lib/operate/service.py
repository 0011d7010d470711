"""The ECS service: its tasks, pause and resume, and the state ``status`` shows.

**Pause** suspends the service's scaling (so neither the backlog policy nor the wake-from-zero
alarm starts tasks), then sets the desired count to 0: idle tasks stop, and a task reading a
document keeps its scale-in protection until that document is done. **Resume** lifts the
suspension and, if work is waiting, asks for the scaling minimum or one task, whichever is more.
Terraform leaves both alone: the service ignores ``desired_count`` and the scalable target
ignores ``suspended_state`` (constructs_lib/service.py, constructs_lib/scaling.py), so the next
plan shows no change.
"""

from __future__ import annotations

from constructs_lib.operate.deployment import Deployment, OperatorError
from constructs_lib.operate.queues import depths

DIMENSION = "ecs:service:DesiredCount"
_SUSPEND = ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended")


def scalable_target(scaling, deployment: Deployment) -> dict:
    targets = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[deployment.scaling_resource_id],
                                                ScalableDimension=DIMENSION)["ScalableTargets"]
    if not targets:
        raise OperatorError(f"{deployment.scaling_resource_id} has no scalable target: is the service stack deployed?")
    return targets[0]


def paused(target: dict) -> bool:
    return all(target.get("SuspendedState", {}).get(name) for name in _SUSPEND)


def _suspend(scaling, deployment: Deployment, suspended: bool) -> None:
    scaling.register_scalable_target(ServiceNamespace="ecs", ResourceId=deployment.scaling_resource_id,
                                     ScalableDimension=DIMENSION,
                                     SuspendedState={name: suspended for name in _SUSPEND})


def pause(ecs, scaling, deployment: Deployment) -> None:
    scalable_target(scaling, deployment)
    _suspend(scaling, deployment, True)
    ecs.update_service(cluster=deployment.cluster_name, service=deployment.service_name, desiredCount=0)


def resume(ecs, scaling, sqs, deployment: Deployment) -> int:
    """Lift the pause; returns the desired count it set (0: scaling decides when work comes)."""
    target = scalable_target(scaling, deployment)
    _suspend(scaling, deployment, False)
    queue = depths(sqs, deployment)
    wanted = max(target["MinCapacity"], 1 if queue["waiting"] + queue["delayed"] else 0)
    if wanted:
        ecs.update_service(cluster=deployment.cluster_name, service=deployment.service_name, desiredCount=wanted)
    return wanted


def service(ecs, deployment: Deployment) -> dict:
    found = ecs.describe_services(cluster=deployment.cluster_name, services=[deployment.service_name])["services"]
    if not found or found[0]["status"] != "ACTIVE":
        raise OperatorError(f"service {deployment.service_name} is not active in cluster {deployment.cluster_name}")
    return found[0]


def stopped_tasks(ecs, deployment: Deployment, most: int = 5) -> list[dict]:
    """Recently stopped tasks (ECS keeps them about an hour): why, and each container's exit code."""
    arns = ecs.list_tasks(cluster=deployment.cluster_name, serviceName=deployment.service_name,
                          desiredStatus="STOPPED")["taskArns"][:100]
    if not arns:
        return []
    tasks = ecs.describe_tasks(cluster=deployment.cluster_name, tasks=arns)["tasks"]
    tasks.sort(key=lambda t: str(t.get("stoppedAt", "")), reverse=True)
    return [{"task": t["taskArn"].rsplit("/", 1)[-1], "stopped_at": str(t.get("stoppedAt", "")),
             "reason": t.get("stoppedReason", ""),
             "exit_codes": {c["name"]: c.get("exitCode") for c in t.get("containers", [])}} for t in tasks[:most]]
