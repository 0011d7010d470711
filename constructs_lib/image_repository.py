"""The worker image: an ECR repository and a Terraform hook that builds and pushes ``image/``."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Optional

from constructs import Construct

from constructs_lib import validation
from constructs_lib.framework import AssetType, DataResource, LocalExecProvisioner, TerraformAsset, aws
from constructs_lib.naming import Names
from constructs_lib.policy import Role, grant, statement
from constructs_lib.validation import Props, check

EcrLifecyclePolicy = aws.ecr_lifecycle_policy.EcrLifecyclePolicy
EcrRepository = aws.ecr_repository.EcrRepository
EcrRepositoryEncryptionConfiguration = aws.ecr_repository.EcrRepositoryEncryptionConfiguration
IamRolePolicy = aws.iam_role_policy.IamRolePolicy

#: Not part of the image: caches and build leftovers never change the tag.
IGNORED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "build", ".git"}
IGNORED_SUFFIXES = (".pyc", ".pyo", ".egg-info")


def content_hash(context: Path) -> str:
    """sha256 over the sorted relative paths and bytes of every file in ``context`` that the build
    sends: what ``.dockerignore`` excludes (a stray ``.DS_Store``, logs) never changes the tag."""
    ignored = dockerignore(context)
    digest = hashlib.sha256()
    files = []
    for folder, dirs, names in os.walk(context):
        dirs[:] = [d for d in dirs if d not in IGNORED_DIRS and not d.endswith(IGNORED_SUFFIXES)]
        files += [Path(folder, n) for n in names if not n.endswith(IGNORED_SUFFIXES)]
    for path in sorted(files, key=lambda p: p.relative_to(context).as_posix()):
        if ignored(path.relative_to(context).as_posix()):
            continue
        data = path.read_bytes()
        digest.update(f"{path.relative_to(context).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def dockerignore(context: Path) -> Callable[[str], bool]:
    """Whether a path (relative, with ``/``) is excluded by ``context/.dockerignore``, as the
    builder reads it: one pattern a line, ``#`` comments, ``*`` and ``?`` within a name, ``**``
    across directories, a pattern that matches a directory excludes what is under it, and a later
    ``!pattern`` includes again ("Dockerfile reference", .dockerignore file)."""
    path = context / ".dockerignore"
    rules: list[tuple[bool, re.Pattern]] = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line.removeprefix("!").strip().strip("/")
        rules.append((include, re.compile(f"^{_glob(pattern)}(?:/.*)?$")))

    def ignored(relative: str) -> bool:
        excluded = False
        for include, rule in rules:
            if rule.match(relative):
                excluded = not include
        return excluded

    return ignored


def _glob(pattern: str) -> str:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


@dataclass(frozen=True)
class ImageRepositoryProps(Props):
    """How the worker image reaches ECR.

    Attributes:
        repository_name: The ECR repository. Default ``<project>-processor``.
        build: Build and push the image folder from Terraform. Default on. Off: give
            ``image_uri`` (Terraform Cloud remote runs have no container engine; CI may build the
            image itself).
        image_uri: With ``build`` off: the image to run. Required then.
        container_cli: ``docker`` (default) or ``podman`` builds and pushes.
        keep_images: ECR keeps this many images, 1 to 1000. Default 10.
    """

    repository_name: Optional[str] = None
    build: bool = True
    image_uri: Optional[str] = None
    container_cli: Literal["docker", "podman"] = "docker"
    keep_images: int = 10

    def validate(self) -> None:
        if self.repository_name is not None:
            validation.ecr_repository_name("repository_name", self.repository_name)
        check(self.build or bool(self.image_uri), "image_uri", "required when build is false")
        check(self.container_cli in ("docker", "podman"), "container_cli", "must be 'docker' or 'podman'")
        # Lifecycle policy countNumber: a positive integer; ECR holds at most 10,000 images per
        # repository (https://docs.aws.amazon.com/AmazonECR/latest/userguide/service-quotas.html).
        check(1 <= self.keep_images <= 10000, "keep_images", "must be between 1 and 10000")


class ImageRepository(Construct):
    """ECR repository (scan on push, immutable tags, KMS encryption, keep the last ``keep_images``).

    With ``props.build`` on, ``context_dir`` is copied into the stack's output as a cdktf asset
    and a ``terraform_data`` resource runs its ``build_and_push.sh`` whenever the content hash of
    ``context_dir`` or the repository changes. The image tag is that hash, so a change in the
    folder means a new tag, a new task definition revision and a rolling deploy, and no change
    means an empty plan. The script skips the build and push when the repository already holds
    the tag (tags are immutable: going back to an earlier folder re-uses its image). With
    ``build`` off, ``props.image_uri`` is used as given.

    ``force_delete`` is on: every image can be rebuilt from ``context_dir``, and ``destroy`` of a
    repository that holds images fails otherwise.
    """

    image_uri: str
    #: The hook, for ``depends_on``; None when the image comes from ``image_uri``.
    build: Optional[DataResource]

    def __init__(self, scope: Construct, id: str, props: Optional[ImageRepositoryProps] = None, *, project: str,
                 region: str, context_dir: Optional[Path] = None) -> None:
        """``context_dir``: the image folder that ``props.build`` builds (needed only then).
        Attributes: ``repository`` (EcrRepository), ``image_uri`` (what the task runs), ``build``
        (the hook, or None), ``props``."""
        super().__init__(scope, id)
        props = self.props = props or ImageRepositoryProps()
        self.repository = EcrRepository(
            self, "repository", name=props.repository_name or Names(project).repository,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True}, force_delete=True,
            encryption_configuration=[EcrRepositoryEncryptionConfiguration(encryption_type="KMS")])
        EcrLifecyclePolicy(self, "lifecycle", repository=self.repository.name, policy=(
            '{"rules":[{"rulePriority":1,"description":"keep the last %d images","selection":'
            '{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":%d},"action":{"type":"expire"}}]}'
            % (props.keep_images, props.keep_images)))

        if not props.build:
            assert props.image_uri  # the props refuse build=False without image_uri
            self.image_uri, self.build = props.image_uri, None
            return
        if context_dir is None:
            raise validation.ConfigError("ImageRepository.context_dir",
                                         "required when build is on (the folder to build)")
        tag = content_hash(context_dir)
        # The asset travels with the stack's JSON (Terraform Cloud, another machine); its path is
        # relative to the stack's directory, and keyed by the same hash as the tag.
        context = TerraformAsset(self, "context", path=str(Path(context_dir).resolve()), type=AssetType.DIRECTORY,
                                 asset_hash=tag)
        self.image_uri = f"{self.repository.repository_url}:{tag}"
        self.build = DataResource(
            self, "build", triggers_replace={"image_hash": tag, "repository": self.repository.repository_url},
            provisioners=[LocalExecProvisioner(
                type="local-exec", command="./build_and_push.sh", working_dir=context.path,
                environment={"IMAGE_URI": self.image_uri, "AWS_REGION": region,
                             "CONTAINER_CLI": props.container_cli})])

    @property
    def pulled_repository_arn(self) -> Optional[str]:
        """The ECR repository the task pulls from: this one when it builds, the one named in
        ``image_uri`` otherwise; None for an image outside private ECR (Docker Hub, Amazon ECR
        Public, another registry), which the execution role needs no grant to pull."""
        if self.build is not None:
            return self.repository.arn
        return ecr_repository_arn(self.image_uri)

    def grant_pull(self, role: Role) -> Optional[IamRolePolicy]:
        """Pull the task's image (what the task execution role needs), from its repository only.
        The ECR token call has no resource-level permissions ("Amazon ECR identity-based policy
        examples"). Returns None, granting nothing, for an image outside private ECR. A
        repository in another account must also allow this role in its repository policy
        ("Private repository policies", Amazon ECR User Guide)."""
        repository = self.pulled_repository_arn
        if repository is None:
            return None
        return grant(role, "pull-image", [
            statement("PullImage", ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
                                    "ecr:BatchGetImage"], [repository]),
            statement("EcrToken", ["ecr:GetAuthorizationToken"], ["*"]),
        ])


#: A private ECR image: <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]/<repository>[:tag|@digest]
#: ("Private registry concepts", Amazon ECR User Guide; repository names: API_CreateRepository).
_ECR_IMAGE = re.compile(r"(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?"
                        r"/(?P<repository>[a-z0-9._/-]+?)(?::[\w.-]+)?(?:@sha256:[0-9a-f]{64})?")


def ecr_repository_arn(image_uri: str) -> Optional[str]:
    """The ARN of the private ECR repository ``image_uri`` is in, or None when it is not in one."""
    match = _ECR_IMAGE.fullmatch(image_uri)
    if match is None:
        return None
    region = match["region"]
    partition = "aws-cn" if match["cn"] else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return f"arn:{partition}:ecr:{region}:{match['account']}:repository/{match['repository']}"
