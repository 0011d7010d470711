#!/usr/bin/env python
"""The model cache alone, in a VPC you already have, for a task role you already have.

Synthesizes one stack, ``model-cache``: an encrypted EFS file system with one mount target per
zone, its access point, NFS open to your tasks' security group only, and read access for your
existing role through the access point. Run ``cdktf synth`` here, or ``python main.py``.
"""

from constructs import Construct

from constructs_lib import lazy_provider

lazy_provider.install()  # optional, before the first provider import: synthesize in seconds, not ~20 s

# cdktf or CDK Terrain, whichever is installed (see constructs_lib/framework.py)
from constructs_lib.framework import App, TerraformOutput, TerraformStack, aws  # noqa: E402
from constructs_lib.model_cache import ModelCache, ModelCacheProps  # noqa: E402
from constructs_lib.provider import add_aws_provider  # noqa: E402

PROJECT = "teamc"
VPC_ID = "vpc-0a1b2c3d4e5f60718"
PRIVATE_SUBNETS = {"eu-west-1a": "subnet-0a1b2c3d4e5f60711", "eu-west-1b": "subnet-0a1b2c3d4e5f60722"}
TASK_SECURITY_GROUP = "sg-0a1b2c3d4e5f60733"
TASK_ROLE = "teamc-ocr-task-role"


class ModelCacheStack(TerraformStack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        add_aws_provider(self, region="eu-west-1", project=PROJECT)
        cache = ModelCache(self, "models", ModelCacheProps(uid=1000, gid=1000, backups=False), project=PROJECT,
                           vpc_id=VPC_ID, subnets_by_az=PRIVATE_SUBNETS,
                           client_security_group_id=TASK_SECURITY_GROUP)
        role = aws.data_aws_iam_role.DataAwsIamRole(self, "task-role", name=TASK_ROLE)
        cache.grant_read(role)
        TerraformOutput(self, "file_system_id", value=cache.file_system_id)
        TerraformOutput(self, "access_point_id", value=cache.access_point_id)


app = App()
ModelCacheStack(app, "model-cache")
app.synth()
