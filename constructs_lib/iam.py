"""The two roles every ECS task needs: execution (pull, logs) and task (what the code may do)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from constructs import Construct

from constructs_lib import aws_env, validation
from constructs_lib.framework import aws
from constructs_lib.naming import Names
from constructs_lib.policy import service_trust_policy
from constructs_lib.validation import Props

IamRole = aws.iam_role.IamRole

ECS_TASKS = "ecs-tasks.amazonaws.com"


@dataclass(frozen=True)
class TaskRolesProps(Props):
    """Attributes:
        task_role_name: What the worker's code may do. Default ``<project>-processor-task-role``.
        execution_role_name: What ECS does for the task (pull, logs). Default
            ``<project>-processor-execution-role``.
    """

    task_role_name: Optional[str] = None
    execution_role_name: Optional[str] = None

    def validate(self) -> None:
        for key in ("task_role_name", "execution_role_name"):
            if getattr(self, key) is not None:
                validation.iam_role_name(key, getattr(self, key))
        validation.check(self.task_role_name is None or self.task_role_name != self.execution_role_name,
                         "execution_role_name", "must differ from task_role_name")


class TaskRoles(Construct):
    """Both roles start with no permissions; grant methods add exactly what each needs:
    ``ImageRepository.grant_pull`` and ``OcrTaskDefinition`` (its log group) for ``execution_role``
    (instead of the managed AmazonECSTaskExecutionRolePolicy, which allows every repository and
    log group), ``ModelCache.grant_read_write`` and ``DocumentPipeline.grant_process`` for
    ``task_role``.

    The task role trusts ``ecs-tasks.amazonaws.com`` only for this account's ECS resources
    (``aws:SourceAccount`` and ``aws:SourceArn``, as the "Amazon ECS task IAM role" page
    recommends). The execution role trusts it for this account only: AWS documents no
    ``aws:SourceArn`` on the agent's assumption of an execution role (the "Amazon ECS task
    execution IAM role" page shows a trust policy without conditions), and ``ArnLike`` on a key
    the request lacks fails, which would stop every task from starting ("ECS was unable to
    assume the role")."""

    execution_role: IamRole
    task_role: IamRole

    def __init__(self, scope: Construct, id: str, props: Optional[TaskRolesProps] = None, *, project: str) -> None:
        """``project`` derives the role names. Attributes: ``execution_role`` and ``task_role``
        (IamRole), ``props``."""
        super().__init__(scope, id)
        props = self.props = props or TaskRolesProps()
        names = Names(project)
        account = aws_env.account_id(self)
        source_arn = f"arn:{aws_env.partition(self)}:ecs:{aws_env.region(self)}:{account}:*"
        task_trust = service_trust_policy(self, "trust", ECS_TASKS, account, source_arn)
        execution_trust = service_trust_policy(self, "execution-trust", ECS_TASKS, account)

        self.execution_role = IamRole(self, "execution-role", name=props.execution_role_name or names.execution_role,
                                      assume_role_policy=execution_trust.json,
                                      description="ECS task execution: pull the image, write logs")
        self.task_role = IamRole(self, "task-role", name=props.task_role_name or names.task_role,
                                 assume_role_policy=task_trust.json,
                                 description="PaddleOCR worker: model cache, documents, queue")
