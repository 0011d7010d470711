"""The one seam between this library and CDK for Terraform: cdktf, or its fork CDK Terrain (cdktn).

Every other module imports the framework and the AWS provider bindings from here::

    from constructs_lib.framework import Fn, TerraformStack   # cdktf.Fn or cdktn.Fn
    from constructs_lib.framework import aws
    Vpc = aws.vpc.Vpc                                          # <bindings>.vpc.Vpc

The choice is automatic: whichever is installed, cdktf when both are. ``PADDLEOCR_EFS_FRAMEWORK``
(``cdktf`` or ``cdktn``) forces one. Install one with ``pip install "paddleocr-efs[cdktf]"`` or
``"paddleocr-efs[cdktn]"``. The two synthesize the same Terraform JSON apart from the version
stamp (tests/test_framework.py compares them).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType
from typing import TYPE_CHECKING

FRAMEWORK_ENV = "PADDLEOCR_EFS_FRAMEWORK"
#: framework -> (its Python package, its prebuilt AWS provider bindings), in order of preference.
PACKAGES = {"cdktf": ("cdktf", "cdktf_cdktf_provider_aws"), "cdktn": ("cdktn", "cdktn_provider_aws")}


class FrameworkError(ImportError):
    """No usable framework. ``str(error)`` is one line saying what to install or set."""


def _installed(name: str) -> bool:
    return all(importlib.util.find_spec(package) is not None for package in PACKAGES[name])


def resolve(env: "os._Environ[str] | dict[str, str] | None" = None) -> str:
    """The framework to use: ``PADDLEOCR_EFS_FRAMEWORK`` if set, else the first one installed."""
    forced = (os.environ if env is None else env).get(FRAMEWORK_ENV, "").strip()
    if forced:
        if forced not in PACKAGES:
            raise FrameworkError(f"{FRAMEWORK_ENV}={forced!r}: must be one of {', '.join(PACKAGES)}")
        if not _installed(forced):
            raise FrameworkError(f"{FRAMEWORK_ENV}={forced}: {' and '.join(PACKAGES[forced])} are not installed; "
                                 f"pip install 'paddleocr-efs[{forced}]'")
        return forced
    for name in PACKAGES:
        if _installed(name):
            return name
    raise FrameworkError("neither cdktf nor cdktn is installed with its AWS bindings; "
                         "pip install 'paddleocr-efs[cdktf]' (or [cdktn])")


NAME = resolve()
CORE_PACKAGE, AWS_PACKAGE = PACKAGES[NAME]
core: ModuleType = importlib.import_module(CORE_PACKAGE)


class _Bindings:
    """``aws.<submodule>`` imports ``<bindings>.<submodule>`` on first use: only what is used."""

    def __getattr__(self, submodule: str) -> ModuleType:
        if submodule.startswith("_"):
            raise AttributeError(submodule)
        return importlib.import_module(f"{AWS_PACKAGE}.{submodule}")


if TYPE_CHECKING:  # the checker reads cdktf's bindings, typed by jsii; at run time, whichever is installed
    import cdktf_cdktf_provider_aws as aws
else:
    aws = _Bindings()


def __getattr__(name: str):
    """``from constructs_lib.framework import App`` is the framework's ``App``."""
    try:
        return getattr(core, name)
    except AttributeError:
        raise AttributeError(f"{CORE_PACKAGE} has no {name!r}") from None
