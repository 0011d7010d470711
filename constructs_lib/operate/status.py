"""``paddleocr-efs status``: the service, the queues, the model cache and the last failures."""

from __future__ import annotations

import json

from constructs_lib.operate.deployment import Deployment
from constructs_lib.operate.queues import depths
from constructs_lib.operate.service import paused, scalable_target, service, stopped_tasks

#: Error results looked at for the newest ones: S3 lists keys in name order, not by time, so a
#: bucket with more results than this shows the newest of the first ones listed, and says so.
SCANNED_RESULTS = 5000


def gather(clients: dict, deployment: Deployment) -> dict:
    ecs, scaling = clients["ecs"], clients["application-autoscaling"]
    svc, target = service(ecs, deployment), scalable_target(scaling, deployment)
    errors, complete = error_results(clients["s3"], deployment)
    return {
        "service": {"name": deployment.service_name, "cluster": deployment.cluster_name,
                    "desired": svc["desiredCount"], "running": svc["runningCount"], "pending": svc["pendingCount"],
                    "min": target["MinCapacity"], "max": target["MaxCapacity"], "paused": paused(target),
                    "task_definition": svc["taskDefinition"].rsplit("/", 1)[-1]},
        "queue": depths(clients["sqs"], deployment),
        "cache": cache(clients["efs"], deployment),
        "failed_documents": errors, "failed_documents_complete": complete,
        "stopped_tasks": stopped_tasks(ecs, deployment),
    }


def cache(efs, deployment: Deployment) -> dict:
    [fs] = efs.describe_file_systems(FileSystemId=deployment.file_system_id)["FileSystems"]
    targets = efs.describe_mount_targets(FileSystemId=deployment.file_system_id)["MountTargets"]
    return {"file_system": deployment.file_system_id, "state": fs["LifeCycleState"],
            "bytes": fs["SizeInBytes"]["Value"], "mount_targets": len(targets),
            "mount_targets_available": sum(t["LifeCycleState"] == "available" for t in targets)}


def error_results(s3, deployment: Deployment, most: int = 5) -> tuple[list[dict], bool]:
    """The newest ``.error.json`` results among the first SCANNED_RESULTS, and whether that was all."""
    found, seen, complete = [], 0, True
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=deployment.output_bucket,
                                                         Prefix=deployment.output_prefix)
    for page in pages:
        for item in page.get("Contents", []):
            if item["Key"].endswith(".error.json") and "/.parts/" not in f"/{item['Key']}":
                found.append(item)
        seen += page.get("KeyCount", 0)
        if seen >= SCANNED_RESULTS and page.get("IsTruncated"):
            complete = False
            break
    found.sort(key=lambda item: item["LastModified"], reverse=True)
    return [{"key": item["Key"], "at": item["LastModified"].isoformat(timespec="seconds"),
             "error": _error_of(s3, deployment, item["Key"])} for item in found[:most]], complete


def _error_of(s3, deployment: Deployment, key: str) -> str:
    body = json.loads(s3.get_object(Bucket=deployment.output_bucket, Key=key)["Body"].read())
    return str(body.get("error", ""))


def render(state: dict) -> str:
    s, q, c = state["service"], state["queue"], state["cache"]
    lines = [
        f"service   {s['name']} on {s['cluster']}: {s['running']} running, {s['pending']} pending, "
        f"{s['desired']} desired (scaling {s['min']} to {s['max']}{', PAUSED' if s['paused'] else ''}); "
        f"task definition {s['task_definition']}",
        f"queue     {q['waiting']} waiting, {q['in_flight']} in flight, {q['delayed']} delayed",
        f"dlq       {q['dead_letters']} dead letters"
        + (" (paddleocr-efs redrive moves them back)" if q["dead_letters"] else ""),
        f"cache     {c['file_system']} {c['state']}, {c['bytes'] / 1e6:.1f} MB, "
        f"{c['mount_targets_available']} of {c['mount_targets']} mount targets available",
    ]
    for failure in state["failed_documents"]:
        lines.append(f"refused   {failure['at']} {failure['key']}: {failure['error']}")
    if not state["failed_documents_complete"]:
        lines.append(f"refused   (newest among the first {SCANNED_RESULTS} results listed)")
    for task in state["stopped_tasks"]:
        codes = ", ".join(f"{name} {code}" for name, code in task["exit_codes"].items() if code is not None)
        lines.append(f"stopped   {task['stopped_at']} task {task['task']}: {task['reason']}"
                     + (f" (exit: {codes})" if codes else ""))
    return "\n".join(lines)
