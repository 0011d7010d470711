#!/usr/bin/env python
"""Every construct composed in one stack: network, model cache, roles, image, documents, the
Fargate service, scaling and alarms. The app in the repository root splits the same parts into
four stacks with remote state; this is the shape to copy into a repo that keeps one stack.

The image is given by URI (built by your CI); ``ImageRepositoryProps(build=True)`` would build
``image/`` from Terraform instead.
"""

from pathlib import Path

from constructs import Construct

from constructs_lib import lazy_provider

lazy_provider.install()  # optional, before the first provider import: synthesize in seconds, not ~20 s

# cdktf or CDK Terrain, whichever is installed (see constructs_lib/framework.py)
from constructs_lib.documents import DocumentPipeline, DocumentPipelineProps  # noqa: E402
from constructs_lib.framework import App, TerraformOutput, TerraformStack, aws  # noqa: E402
from constructs_lib.iam import TaskRoles  # noqa: E402
from constructs_lib.image_repository import ImageRepository, ImageRepositoryProps  # noqa: E402
from constructs_lib.model_cache import ModelCache  # noqa: E402
from constructs_lib.monitoring import Monitoring, MonitoringProps  # noqa: E402
from constructs_lib.network import Network, NetworkProps  # noqa: E402
from constructs_lib.provider import add_aws_provider  # noqa: E402
from constructs_lib.scaling import QueueScaling, QueueScalingProps  # noqa: E402
from constructs_lib.service import OcrService, OcrServiceProps  # noqa: E402
from constructs_lib.task_definition import OcrTaskDefinition, TaskProps  # noqa: E402

PROJECT, REGION = "teamd", "eu-central-1"
IMAGE = "111122223333.dkr.ecr.eu-central-1.amazonaws.com/teamd-processor:2026-11-29"


class OcrStack(TerraformStack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        add_aws_provider(self, region=REGION, project=PROJECT, tags={"CostCenter": "ocr"})
        account = aws.data_aws_caller_identity.DataAwsCallerIdentity(self, "account")

        network = Network(self, "network", NetworkProps(availability_zones=["eu-central-1a", "eu-central-1b"]),
                          project=PROJECT)
        cache = ModelCache(self, "models", project=PROJECT, vpc_id=network.vpc_id,
                           subnets_by_az=network.private_subnets_by_az,
                           client_security_group_id=network.task_security_group.id)
        roles = TaskRoles(self, "roles", project=PROJECT)
        image = ImageRepository(self, "image", ImageRepositoryProps(build=False, image_uri=IMAGE), project=PROJECT,
                                region=REGION, context_dir=Path(__file__).parent)
        documents = DocumentPipeline(self, "documents", DocumentPipelineProps(max_receive_count=5), project=PROJECT,
                                     account_id=account.account_id)

        # Grants attach to the roles and return what they added.
        cache.grant_read_write(roles.task_role)
        documents.grant_process(roles.task_role)
        image.grant_pull(roles.execution_role)

        task = OcrTaskDefinition(self, "ocr-task", TaskProps(cpu=2048, memory=4096), project=PROJECT, region=REGION,
                                 image=image, cache=cache, roles=roles, pipeline=documents)
        service = OcrService(self, "ocr", OcrServiceProps(spot=True), project=PROJECT, task=task,
                             subnet_ids=network.private_subnet_ids, security_group_id=network.task_security_group.id)
        QueueScaling(self, "scaling", QueueScalingProps(max_tasks=4), service=service, documents=documents)
        Monitoring(self, "monitoring", MonitoringProps(alarm_email="ocr-oncall@example.com"), project=PROJECT,
                   region=REGION, account_id=account.account_id, service=service, documents=documents, cache=cache)
        TerraformOutput(self, "queue_url", value=documents.queue.url)


app = App()
OcrStack(app, "ocr")
app.synth()
