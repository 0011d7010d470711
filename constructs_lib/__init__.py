"""CDKTF constructs for a PaddleOCR worker on ECS Fargate with a shared EFS model cache.

Importing this package changes nothing global. To synthesize without paying ~20 s for the AWS
provider bindings' eager import, call :func:`constructs_lib.lazy_provider.install` before the
first provider import, as ``main.py`` does.
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("paddleocr-efs")
except _metadata.PackageNotFoundError:  # a source checkout that was never installed
    __version__ = "0+unknown"
