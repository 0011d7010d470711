"""The worker image: an ECR repository and a Terraform hook that builds and pushes ``image/``."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional

from cdktf import DataResource, LocalExecProvisioner
from cdktf_cdktf_provider_aws.ecr_lifecycle_policy import EcrLifecyclePolicy
from cdktf_cdktf_provider_aws.ecr_repository import EcrRepository, EcrRepositoryEncryptionConfiguration
from constructs import Construct

from constructs_lib.config import ImageSettings

#: Not part of the image: caches and build leftovers never change the tag.
IGNORED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "build", ".git"}
IGNORED_SUFFIXES = (".pyc", ".pyo", ".egg-info")


def content_hash(context: Path) -> str:
    """sha256 over the sorted relative paths and bytes of every file in ``context``."""
    digest = hashlib.sha256()
    files = []
    for folder, dirs, names in os.walk(context):
        dirs[:] = [d for d in dirs if d not in IGNORED_DIRS and not d.endswith(IGNORED_SUFFIXES)]
        files += [Path(folder, n) for n in names if not n.endswith(IGNORED_SUFFIXES)]
    for path in sorted(files, key=lambda p: p.relative_to(context).as_posix()):
        data = path.read_bytes()
        digest.update(f"{path.relative_to(context).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


class ImageRepository(Construct):
    """ECR repository (scan on push, immutable tags, KMS encryption, keep the last ``keep_images``).

    With ``settings.build`` on, a ``terraform_data`` resource runs ``image/build_and_push.sh``
    whenever the content hash of ``context_dir`` changes; the image tag is that hash, so a change
    in ``image/`` means a new tag, a new task definition revision and a rolling deploy, and no
    change means an empty plan. With it off, ``settings.image_uri`` is used as given.
    """

    image_uri: str
    #: The hook, for ``depends_on``; None when the image comes from ``image_uri``.
    build: Optional[DataResource]

    def __init__(self, scope: Construct, id: str, *, settings: ImageSettings, region: str,
                 context_dir: Path, context_dir_from_stack: str = "../../../image") -> None:
        super().__init__(scope, id)
        self.repository = EcrRepository(
            self, "repository", name=settings.repository_name, image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configuration=[EcrRepositoryEncryptionConfiguration(encryption_type="KMS")])
        EcrLifecyclePolicy(self, "lifecycle", repository=self.repository.name, policy=(
            '{"rules":[{"rulePriority":1,"description":"keep the last %d images","selection":'
            '{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":%d},"action":{"type":"expire"}}]}'
            % (settings.keep_images, settings.keep_images)))

        if not settings.build:
            self.image_uri, self.build = settings.image_uri, None
            return
        tag = content_hash(context_dir)
        self.image_uri = f"{self.repository.repository_url}:{tag}"
        self.build = DataResource(
            self, "build", triggers_replace={"image_hash": tag},
            provisioners=[LocalExecProvisioner(
                type="local-exec", command="./build_and_push.sh", working_dir=context_dir_from_stack,
                environment={"IMAGE_URI": self.image_uri, "AWS_REGION": region,
                             "CONTAINER_CLI": settings.container_cli})])
