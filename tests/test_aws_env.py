"""The account, partition and region: one data source of each per stack, however many ask."""

import pytest

from constructs_lib import aws_env
from tests.synth import load_stack, new_stack, synth_stack

DATA = ("aws_caller_identity", "aws_partition", "aws_region")


def test_each_is_read_once_per_stack_however_many_constructs_ask():
    from constructs import Construct

    stack = new_stack()
    first, second = Construct(stack, "first"), Construct(stack, "second")
    for scope in (first, second, stack):
        aws_env.account_id(scope), aws_env.partition(scope), aws_env.region(scope)
    doc = synth_stack(stack)
    assert {kind: list(doc["data"][kind]) for kind in DATA} == {
        "aws_caller_identity": ["aws-account"], "aws_partition": ["aws-partition"], "aws_region": ["aws-region"]}


@pytest.mark.parametrize("stack", ["network", "model-cache", "service"])
def test_no_stack_reads_them_twice(default_stacks, stack):
    doc = load_stack(default_stacks, stack)
    assert all(len(doc.get("data", {}).get(kind, {})) <= 1 for kind in DATA), \
        {kind: list(doc.get("data", {}).get(kind, {})) for kind in DATA}
