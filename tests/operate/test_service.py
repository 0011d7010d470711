"""pause, resume and status against moto's ECS, Application Auto Scaling and EFS."""

import pytest

from constructs_lib.operate import service, status
from tests.operate.test_documents import write_result

pytestmark = pytest.mark.moto


def described(clients, deployment):
    svc = service.service(clients["ecs"], deployment)
    return svc["desiredCount"], service.paused(service.scalable_target(clients["application-autoscaling"], deployment))


def test_pause_suspends_scaling_then_stops_the_tasks(clients, deployment):
    assert described(clients, deployment) == (2, False)
    service.pause(clients["ecs"], clients["application-autoscaling"], deployment)
    assert described(clients, deployment) == (0, True)
    target = service.scalable_target(clients["application-autoscaling"], deployment)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 10)  # Terraform's settings are left alone


def test_resume_with_no_work_leaves_the_count_to_scaling(clients, deployment):
    service.pause(clients["ecs"], clients["application-autoscaling"], deployment)
    assert service.resume(clients["ecs"], clients["application-autoscaling"], clients["sqs"], deployment) == 0
    assert described(clients, deployment) == (0, False)


def test_resume_with_work_waiting_starts_a_task(clients, deployment):
    service.pause(clients["ecs"], clients["application-autoscaling"], deployment)
    clients["sqs"].send_message(QueueUrl=deployment.queue_url, MessageBody="{}")
    assert service.resume(clients["ecs"], clients["application-autoscaling"], clients["sqs"], deployment) == 1
    assert described(clients, deployment) == (1, False)


def test_status_shows_service_queues_cache_and_refused_documents(clients, deployment, tmp_path):
    from constructs_lib.operate import documents

    for name in ("bad.pdf", "worse.pdf"):
        path = tmp_path / name
        path.write_bytes(b"not a pdf")
        upload = documents.submit(clients["s3"], deployment, path)
        write_result(clients, deployment, upload, {"error": f"{name} is not a PDF"})
    clients["sqs"].send_message(QueueUrl=deployment.dlq_url, MessageBody="{}")
    service.pause(clients["ecs"], clients["application-autoscaling"], deployment)
    state = status.gather(clients, deployment)
    assert state["service"]["paused"] and state["service"]["desired"] == 0
    assert state["queue"]["dead_letters"] == 1
    assert state["cache"]["mount_targets"] == 1 and state["cache"]["state"] == "available"
    assert sorted(f["error"] for f in state["failed_documents"]) == ["bad.pdf is not a PDF", "worse.pdf is not a PDF"]
    text = status.render(state)
    assert "PAUSED" in text and "1 dead letters (paddleocr-efs redrive moves them back)" in text
    assert "results/incoming/bad.pdf.error.json: bad.pdf is not a PDF" in text
