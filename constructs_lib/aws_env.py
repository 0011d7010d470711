"""The account, partition and region a stack deploys into, as Terraform expressions.

One data source of each per stack however many constructs ask (as aws-cdk-lib's
``Stack.of(this).account``): they sit at the stack's root as ``aws-account``, ``aws-partition``
and ``aws-region``.
"""

from __future__ import annotations

from typing import Protocol, cast

from constructs import IConstruct, Node

from constructs_lib.framework import TerraformStack, aws


class InStack(Protocol):
    """Anything in a stack: a construct, or a ``policy.Role``."""

    @property
    def node(self) -> Node: ...


def _data(scope: InStack, cls, id: str):
    stack = TerraformStack.of(cast(IConstruct, scope))
    return stack.node.try_find_child(id) or cls(stack, id)


def account_id(scope: InStack) -> str:
    return _data(scope, aws.data_aws_caller_identity.DataAwsCallerIdentity, "aws-account").account_id


def partition(scope: InStack) -> str:
    return _data(scope, aws.data_aws_partition.DataAwsPartition, "aws-partition").partition


def region(scope: InStack) -> str:
    return _data(scope, aws.data_aws_region.DataAwsRegion, "aws-region").id
