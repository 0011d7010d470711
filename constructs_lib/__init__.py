"""CDKTF constructs for a PaddleOCR worker on ECS Fargate with a shared EFS model cache."""

from constructs_lib import lazy_provider

lazy_provider.install()
