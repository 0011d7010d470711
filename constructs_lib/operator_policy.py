"""The managed policy for the people and pipelines that run ``paddleocr-efs``."""

from __future__ import annotations

from constructs import Construct

from constructs_lib.documents import DocumentPipeline
from constructs_lib.framework import aws
from constructs_lib.model_cache import ModelCache
from constructs_lib.policy import policy_document
from constructs_lib.scaling import QueueScaling
from constructs_lib.service import OcrService

IamPolicy = aws.iam_policy.IamPolicy


class OperatorPolicy(Construct):
    """Exactly what each ``paddleocr-efs`` command calls on this deployment: the statements come
    from the constructs that own the resources (``operator_statements()``). Attach it to an
    operator's role, group or user. Reading the stacks' outputs needs read access to the
    Terraform state as well, which depends on the backend and is not part of it."""

    def __init__(self, scope: Construct, id: str, *, name: str, documents: DocumentPipeline, service: OcrService,
                 scaling: QueueScaling, cache: ModelCache) -> None:
        """Attributes: ``policy`` (IamPolicy) and ``statements``."""
        super().__init__(scope, id)
        self.statements = [*documents.operator_statements(), *service.operator_statements(),
                           *scaling.operator_statements(), *cache.operator_statements()]
        document = policy_document(self, "document", self.statements)
        self.policy = IamPolicy(self, "policy", name=name, policy=document.json,
                                description="paddleocr-efs: submit, result, status, redrive, pause and resume")
