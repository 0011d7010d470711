"""The app's stacks. Each is deployed on its own and reads the others through remote state."""

from __future__ import annotations

from cdktf import TerraformOutput, TerraformStack
from constructs import Construct

from constructs_lib.backend import add_backend
from constructs_lib.config import Settings
from constructs_lib.iam import TaskRoles
from constructs_lib.model_cache import ModelCache
from constructs_lib.network import Network
from constructs_lib.provider import add_aws_provider
from constructs_lib.secure_bucket import SecureBucket


class AppStack(TerraformStack):
    """A stack with the AWS provider and the configured state backend."""

    def __init__(self, scope: Construct, name: str, settings: Settings, *, local_state: bool = False) -> None:
        super().__init__(scope, name)
        self.settings = settings
        self.resource_name = f"{settings.project}-paddleocr"
        add_aws_provider(self, settings)
        add_backend(self, name, settings, force_local=local_state)

    def output(self, name: str, value, description: str) -> None:
        TerraformOutput(self, name, value=value, description=description)


class BootstrapStack(AppStack):
    """The S3 bucket that holds every other stack's state. Its own state is always local."""

    def __init__(self, scope: Construct, name: str, settings: Settings) -> None:
        super().__init__(scope, name, settings, local_state=True)
        bucket = SecureBucket(self, "state", bucket_name=settings.backend.bucket,
                              bucket_prefix=None if settings.backend.bucket else f"{settings.project}-tfstate-")
        self.output("state_bucket", bucket.bucket.bucket, "Set backend.bucket to this and backend.type to 's3'")


class NetworkStack(AppStack):
    def __init__(self, scope: Construct, name: str, settings: Settings) -> None:
        super().__init__(scope, name, settings)
        self.network = Network(self, "network", settings=settings.network, name=self.resource_name,
                               availability_zones=settings.availability_zones)
        self.output("vpc_id", self.network.vpc_id, "VPC of the tasks and mount targets")
        self.output("private_subnet_ids", self.network.private_subnet_ids, "Subnets for tasks and mount targets")
        self.output("task_security_group_id", self.network.task_security_group.id, "Security group of the tasks")


class ModelCacheStack(AppStack):
    """The EFS model cache and the task roles, with the task role granted read-write on the cache
    (the warm-up container writes; the worker's mount is read-only at the container level)."""

    def __init__(self, scope: Construct, name: str, settings: Settings, *, network: Network) -> None:
        super().__init__(scope, name, settings)
        self.cache = ModelCache(self, "model-cache", settings=settings.model_cache, vpc_id=network.vpc_id,
                                subnet_ids=network.private_subnet_ids,
                                client_security_group_id=network.task_security_group.id)
        self.roles = TaskRoles(self, "roles", settings=settings.iam)
        self.cache.grant_read_write(self.roles.task_role)

        self.output("file_system_id", self.cache.file_system_id, "EFS file system of the model cache")
        self.output("file_system_arn", self.cache.file_system_arn, "EFS file system ARN")
        self.output("access_point_id", self.cache.access_point_id, "Access point the tasks mount")
        self.output("access_point_arn", self.cache.access_point_arn, "Access point ARN")
        self.output("efs_security_group_id", self.cache.security_group_id, "Security group of the mount targets")
        self.output("task_role_arn", self.roles.task_role.arn, "Task role of the PaddleOCR tasks")
        self.output("execution_role_arn", self.roles.execution_role.arn, "Task execution role")
