"""The app's stacks. Each is deployed on its own and reads earlier ones through remote state:
bootstrap (state bucket), network, model cache (the file system alone), service (roles, image,
documents, ECS, scaling, alarms). No stack depends on a later one."""

from __future__ import annotations

from pathlib import Path

from constructs import Construct

from constructs_lib import aws_env
from constructs_lib.backend import add_backend
from constructs_lib.config import Settings
from constructs_lib.documents import DocumentPipeline
from constructs_lib.framework import TerraformOutput, TerraformStack
from constructs_lib.iam import TaskRoles
from constructs_lib.image_repository import ImageRepository
from constructs_lib.model_cache import ModelCache
from constructs_lib.model_source import grant_model_source_read
from constructs_lib.monitoring import Monitoring
from constructs_lib.naming import Names
from constructs_lib.network import Network
from constructs_lib.operator_policy import OperatorPolicy
from constructs_lib.provider import add_aws_provider
from constructs_lib.scaling import QueueScaling
from constructs_lib.secure_bucket import SecureBucket, SecureBucketProps
from constructs_lib.service import OcrService
from constructs_lib.task_definition import OcrTaskDefinition


class AppStack(TerraformStack):
    """A stack with the AWS provider and the configured state backend."""

    def __init__(self, scope: Construct, name: str, settings: Settings, *, local_state: bool = False) -> None:
        super().__init__(scope, name)
        self.settings = settings
        add_aws_provider(self, region=settings.region, project=settings.project, tags=settings.tags,
                         endpoint=settings.aws_endpoint)
        add_backend(self, name, settings.backend, project=settings.project, region=settings.region,
                    endpoint=settings.aws_endpoint, force_local=local_state)

    def output(self, name: str, value, description: str) -> None:
        TerraformOutput(self, name, value=value, description=description)


class BootstrapStack(AppStack):
    """The S3 bucket that holds every other stack's state. Its own state is always local."""

    def __init__(self, scope: Construct, name: str, settings: Settings) -> None:
        super().__init__(scope, name, settings, local_state=True)
        bucket = SecureBucket(self, "state", SecureBucketProps(
            bucket_name=settings.backend.bucket,
            bucket_prefix=None if settings.backend.bucket else f"{settings.project}-tfstate-"))
        self.output("state_bucket", bucket.bucket.bucket, "Set backend.bucket to this and backend.type to 's3'")


class NetworkStack(AppStack):
    def __init__(self, scope: Construct, name: str, settings: Settings) -> None:
        super().__init__(scope, name, settings)
        self.network = Network(self, "network", settings.network, project=settings.project)
        self.output("vpc_id", self.network.vpc_id, "VPC of the tasks and mount targets")
        self.output("private_subnet_ids", self.network.private_subnet_ids, "Subnets for tasks and mount targets")
        if hasattr(self.network, "zones"):
            self.output("availability_zones", self.network.zones.as_list,
                        "The zones in use; pin them in network.availability_zones")
        self.output("task_security_group_id", self.network.task_security_group.id, "Security group of the tasks")


class ModelCacheStack(AppStack):
    """The EFS model cache: file system, mount targets, access point, NFS security group, policy."""

    def __init__(self, scope: Construct, name: str, settings: Settings, *, network: Network) -> None:
        super().__init__(scope, name, settings)
        self.cache = ModelCache(self, "model-cache", settings.model_cache, project=settings.project,
                                vpc_id=network.vpc_id, subnets_by_az=network.private_subnets_by_az,
                                client_security_group_id=network.task_security_group.id)

        self.output("file_system_id", self.cache.file_system_id, "EFS file system of the model cache")
        self.output("file_system_arn", self.cache.file_system_arn, "EFS file system ARN")
        self.output("access_point_id", self.cache.access_point_id, "Access point the tasks mount")
        self.output("access_point_arn", self.cache.access_point_arn, "Access point ARN")
        self.output("efs_security_group_id", self.cache.security_group_id, "Security group of the mount targets")


class ServiceStack(AppStack):
    """The task roles, the image, the document pipeline, the ECS service on the model cache,
    scaling and alarms. Every grant attaches its policy to a role here."""

    def __init__(self, scope: Construct, name: str, settings: Settings, *, network: Network,
                 model_cache: ModelCacheStack, image_dir: Path) -> None:
        super().__init__(scope, name, settings)
        project, cache = settings.project, model_cache.cache
        account_id = aws_env.account_id(self)
        roles = TaskRoles(self, "roles", settings.iam, project=project)
        image = ImageRepository(self, "image", settings.image, project=project, region=settings.region,
                                context_dir=image_dir)
        documents = DocumentPipeline(self, "documents", settings.documents, project=project,
                                     account_id=account_id)
        # The warm-up container writes the cache; the worker's mount is read-only per container.
        cache.grant_read_write(roles.task_role)
        documents.grant_process(roles.task_role)
        grant_model_source_read(roles.task_role, settings.models)
        image.grant_pull(roles.execution_role)
        # The task definition grants its log group to the execution role; the service grants task
        # protection to the task role.
        task = OcrTaskDefinition(self, "ocr-task", settings.service.task_props(), project=project,
                                 region=settings.region, image=image, cache=cache, roles=roles, pipeline=documents,
                                 environment={"OCR_MODEL_TIER": settings.models.tier,
                                              "OCR_MODEL_SOURCE": settings.models.source,
                                              **settings.worker.environment()})
        ocr = OcrService(self, "ocr", settings.service.service_props(), project=project, task=task,
                         subnet_ids=network.private_subnet_ids, security_group_id=network.task_security_group.id)
        scaling = QueueScaling(self, "scaling", settings.scaling, service=ocr, documents=documents)
        operator = OperatorPolicy(self, "operator", name=Names(project).operator_policy, documents=documents,
                                  service=ocr, scaling=scaling, cache=cache)
        monitoring = Monitoring(self, "monitoring", settings.monitoring, project=project, region=settings.region,
                                account_id=account_id, service=ocr, documents=documents, cache=cache)

        self.output("cluster_name", ocr.cluster_name, "ECS cluster")
        self.output("service_name", ocr.service.name, "ECS service")
        self.output("task_definition_family", task.family, "Task definition family")
        self.output("log_group", task.log_group.name, "CloudWatch log group of both containers")
        self.output("task_role_arn", roles.task_role.arn, "Task role of the PaddleOCR tasks")
        self.output("execution_role_arn", roles.execution_role.arn, "Task execution role")
        self.output("dashboard_name", monitoring.dashboard.dashboard_name, "CloudWatch dashboard")
        self.output("alarm_topic_arn", monitoring.topic.arn, "SNS topic of the alarms")
        self.output("image_uri", image.image_uri, "The image the task runs")
        self.output("repository_url", image.repository.repository_url, "ECR repository")
        self.output("region", settings.region, "The region of every resource")
        self.output("input_bucket", documents.input_bucket_name, "Put documents under input_prefix here")
        self.output("input_prefix", documents.props.input_prefix, "Documents put under this prefix are queued")
        self.output("output_bucket", documents.output.bucket.bucket, "Results are written here")
        self.output("output_prefix", documents.props.output_prefix, "Results are written under this prefix")
        self.output("queue_url", documents.queue.url, "Jobs queue")
        self.output("dlq_url", documents.dlq.url, "Dead-letter queue")
        self.output("operator_policy_arn", operator.policy.arn,
                    "Managed policy with what paddleocr-efs calls (state access not included)")

