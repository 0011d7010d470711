"""CDKTF constructs for a PaddleOCR worker on ECS Fargate with a shared EFS model cache."""

import os

from constructs_lib import lazy_provider

# jsii prints a multi-line end-of-life banner on every run under Node 20, which many distributions
# still ship; it says nothing about this app. An explicit user setting still wins.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

lazy_provider.install()
