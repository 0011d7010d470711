"""One typed settings object for the whole app, validated once at the edge.

Settings come from the ``paddleocr_efs`` object in ``cdktf.json`` ``context``. Another environment
overrides any subset of it with a JSON file named by ``PADDLEOCR_EFS_CONFIG``, merged key by key.
Every problem raises :class:`ConfigError` with one line that names the key, before any construct
is built, so a user never sees a jsii or Python traceback for a typo.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

CONTEXT_KEY = "paddleocr_efs"
OVERRIDE_ENV = "PADDLEOCR_EFS_CONFIG"


class ConfigError(ValueError):
    """A bad setting. ``str(error)`` is one line that names the key and the problem."""


@dataclass(frozen=True)
class BackendSettings:
    """Where each stack keeps its Terraform state (the bootstrap stack always stays local)."""

    type: Literal["local", "s3", "cloud"] = "local"
    #: s3: the state bucket, created by the bootstrap stack.
    bucket: Optional[str] = None
    #: s3: the bucket's region. Default: the app's region.
    region: Optional[str] = None
    #: s3: object key prefix; each stack's state is ``<key_prefix>/<stack>.tfstate``.
    key_prefix: str = "paddleocr-efs"
    #: s3: S3-native locking (a ``.tflock`` object beside the state, Terraform >= 1.10).
    use_lockfile: bool = True
    #: s3: encrypt state with this KMS key (SSE-KMS). Default: the bucket's default encryption,
    #: SSE-KMS with the AWS-managed key for a bootstrap bucket.
    kms_key_id: Optional[str] = None
    #: s3: optional DynamoDB lock table, for Terraform older than 1.10 or during a migration.
    dynamodb_table: Optional[str] = None
    #: cloud: the Terraform Cloud / HCP Terraform organization.
    organization: Optional[str] = None
    #: cloud: each stack gets the workspace ``<workspace_prefix>-<stack>``.
    workspace_prefix: str = "paddleocr-efs"
    #: cloud: the host, for Terraform Enterprise. Default: app.terraform.io.
    hostname: Optional[str] = None


@dataclass(frozen=True)
class NetworkSettings:
    """Create a VPC (the default) or adopt one by id."""

    #: Adopt this VPC instead of creating one; then ``private_subnet_ids`` is required.
    vpc_id: Optional[str] = None
    #: Adopted VPC: the private subnets (at least 2, in different AZs) for tasks and mount targets.
    private_subnet_ids: list[str] = field(default_factory=list)
    #: New VPC: its IPv4 range; /16 to /24. Subnets are carved from it automatically.
    cidr: str = "10.0.0.0/16"
    #: New VPC: how many availability zones, each with one public and one private subnet.
    az_count: int = 2
    #: New VPC: the zones by name, pinned so that a zone AWS adds or impairs never moves a subnet.
    #: Default: the region's first ``az_count`` available standard zones, sorted by name, looked
    #: up at plan time (the network stack outputs them: pin those for production).
    availability_zones: list[str] = field(default_factory=list)
    #: New VPC: one NAT gateway for all AZs (cheaper) or one per AZ (survives an AZ outage).
    nat_gateways: Literal["single", "per_az"] = "single"
    #: New VPC: VPC flow logs to CloudWatch Logs.
    flow_logs: bool = True
    #: Retention of the flow-log group, in days.
    flow_log_retention_days: int = 365


@dataclass(frozen=True)
class ModelCacheSettings:
    """The EFS file system that holds the PaddleX model cache."""

    #: The file system's Name tag.
    name: str = "sabuho-paddleocr-models"
    #: Adopt a file system made by hand from the guide instead of creating one.
    existing_file_system_id: Optional[str] = None
    #: Adopted file system: the security group of its mount targets, if it keeps its own.
    existing_security_group_id: Optional[str] = None
    #: Adopted file system: use this access point instead of creating one.
    existing_access_point_id: Optional[str] = None
    #: Create one mount target per private subnet. Default: yes for a new file system, no for an
    #: adopted one (the guide already made them).
    create_mount_targets: Optional[bool] = None
    #: Manage the file system policy (TLS only, access point only). Default: yes.
    manage_policy: bool = True
    #: The access point's root directory, created with ``uid``:``gid`` and mode 0755.
    access_point_path: str = "/paddleocr-models"
    #: POSIX identity of every client; the container runs as the same uid/gid.
    uid: int = 1000
    gid: int = 1000
    #: Encrypt with this customer KMS key. Default: the AWS-managed key ``aws/elasticfilesystem``.
    kms_key_arn: Optional[str] = None
    #: elastic (default), bursting or provisioned; see the README for why elastic.
    throughput_mode: Literal["elastic", "bursting", "provisioned"] = "elastic"
    #: provisioned mode only: MiB/s.
    provisioned_throughput_mibps: Optional[int] = None
    #: Move files not read for this many days to Infrequent Access; 0 turns it off.
    transition_to_ia_days: Literal[0, 1, 7, 14, 30, 60, 90, 180, 270, 365] = 30
    #: AWS Backup of the file system (see the README for why it is on).
    backups: bool = True


@dataclass(frozen=True)
class IamSettings:
    task_role_name: str = "sabuho-processor-task-role"
    execution_role_name: str = "sabuho-processor-execution-role"


@dataclass(frozen=True)
class ServiceSettings:
    """The ECS cluster, task and service (the service stack)."""

    cluster_name: str = "sabuho-cluster"
    service_name: str = "sabuho-processor-service"
    family: str = "sabuho-processor"
    #: Default: ``/ecs/<family>``.
    log_group: Optional[str] = None
    log_retention_days: int = 365
    #: Task size: 2 vCPU and 4 GiB fit PaddleOCR's detection and recognition models.
    cpu: int = 2048
    memory: int = 4096
    #: Fargate platform version; EFS volumes need 1.4.0 or later.
    platform_version: str = "1.4.0"
    #: Where the image keeps its PaddleX cache home (``PADDLE_PDX_CACHE_HOME``); the EFS volume is
    #: mounted there.
    cache_mount_path: str = "/var/cache/paddlex"
    #: Autoscaling bounds; 0 lets an idle service cost no Fargate time.
    min_tasks: int = 0
    max_tasks: int = 10
    #: Target visible messages per running task.
    backlog_per_task: int = 4
    #: Allow ``aws ecs execute-command`` into tasks.
    enable_exec: bool = False
    #: Run three tasks in four on Fargate Spot (about 70% cheaper). The worker is
    #: interruption-safe: Spot's two-minute SIGTERM is its stopTimeout, and an unfinished document
    #: goes back to the queue without counting as a failure.
    spot: bool = False
    #: Email address subscribed to the alarm topic.
    alarm_email: Optional[str] = None


@dataclass(frozen=True)
class ImageSettings:
    """How the worker image reaches ECR."""

    repository_name: str = "sabuho-processor"
    #: Build and push ``image/`` from Terraform. Off: give ``image_uri`` (Terraform Cloud remote
    #: runs have no container engine; CI may build the image itself).
    build: bool = True
    #: With ``build`` off: the image to run.
    image_uri: Optional[str] = None
    container_cli: Literal["docker", "podman"] = "docker"
    #: ECR keeps this many images.
    keep_images: int = 10


@dataclass(frozen=True)
class DocumentSettings:
    """Input and output buckets and the job queue."""

    #: Use this existing bucket for input instead of creating one.
    existing_input_bucket: Optional[str] = None
    input_prefix: str = "incoming/"
    output_prefix: str = "results/"
    #: Failed attempts (S3 or SQS outages, bugs) before the worker moves a message to the
    #: dead-letter queue. Interruptions never count; bad documents get an error result at once.
    max_receive_count: int = 3
    #: Worst-case seconds to OCR one document: a longer one gets an error result ("over-long"),
    #: and a busy task's scale-in protection lasts this plus two minutes.
    max_document_seconds: int = 600
    #: Let ``destroy`` delete the input and output buckets with every object version in them.
    #: Off: empty them first (see the README), so no document is lost by accident.
    force_destroy: bool = False


@dataclass(frozen=True)
class ModelSettings:
    """Which models the warm-up container fetches, and from where."""

    #: official (PaddleX hosts), or an ``s3://``, ``https://`` or ``file://`` mirror URL. The model
    #: set itself is pinned in ``image/models.lock.json``.
    source: str = "official"


@dataclass(frozen=True)
class Settings:
    project: str = "sabuho"
    region: str = "us-east-1"
    #: Tags on every resource (provider default_tags).
    tags: dict[str, str] = field(default_factory=dict)
    #: Point the provider and the S3 backend at another AWS API, e.g. LocalStack or moto.
    aws_endpoint: Optional[str] = None
    backend: BackendSettings = field(default_factory=BackendSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    model_cache: ModelCacheSettings = field(default_factory=ModelCacheSettings)
    iam: IamSettings = field(default_factory=IamSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    image: ImageSettings = field(default_factory=ImageSettings)
    documents: DocumentSettings = field(default_factory=DocumentSettings)
    models: ModelSettings = field(default_factory=ModelSettings)

    @property
    def log_group(self) -> str:
        return self.service.log_group or f"/ecs/{self.service.family}"

    @property
    def state_region(self) -> str:
        return self.backend.region or self.region

    @property
    def availability_zones(self) -> list[str]:
        """The pinned zones; empty means the region's first ``az_count`` available zones."""
        return list(self.network.availability_zones)


# --------------------------------------------------------------------------------------------
# Loading


def load_settings(cdktf_json: Path, env: Optional[typing.Mapping[str, str]] = None) -> Settings:
    """Read ``cdktf.json`` context, apply the override file, validate, return Settings."""
    env = os.environ if env is None else env
    raw = _read_json(Path(cdktf_json)).get("context", {}).get(CONTEXT_KEY, {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{cdktf_json}: context.{CONTEXT_KEY} must be an object")
    override = env.get(OVERRIDE_ENV)
    if override:
        extra = _read_json(Path(override))
        if not isinstance(extra, dict):
            raise ConfigError(f"{override}: the override must be a JSON object")
        raw = _merge(raw, extra)
    return settings_from_dict(raw)


def settings_from_dict(raw: dict) -> Settings:
    settings = _build(Settings, raw, "")
    _validate(settings)
    return settings


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _build(cls, raw, path: str):
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.rstrip('.') or 'config'}: must be an object, got {_show(raw)}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            raise ConfigError(f"{path}{key}: unknown key (known: {', '.join(sorted(names))})")
    values = {key: _coerce(value, hints[key], f"{path}{key}") for key, value in raw.items()}
    return cls(**values)


def _coerce(value, tp, key: str):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, f"{key}.")
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        return _coerce(value, next(a for a in args if a is not type(None)), key)
    if origin is Literal:
        if value not in args or isinstance(value, bool):
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{key}: must be one of {choices}, got {_show(value)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: must be a list, got {_show(value)}")
        return [_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: must be an object, got {_show(value)}")
        return {k: _coerce(v, args[1], f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: must be true or false, got {_show(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: must be an integer, got {_show(value)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: must be a string, got {_show(value)}")
        return value
    raise TypeError(f"unsupported settings type {tp!r} for {key}")  # a bug here, not user input


def _show(value) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


# --------------------------------------------------------------------------------------------
# Rules that span fields


_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_-]+$")
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,39}$")


def _validate(s: Settings) -> None:
    if not _NAME.match(s.project):
        raise ConfigError(f"project: {s.project!r} must be 1-40 letters, digits, '-' or '_'")
    for key, region in (("region", s.region), ("backend.region", s.backend.region)):
        if region is not None and not _REGION.match(region):
            raise ConfigError(f"{key}: {region!r} is not an AWS region name like 'us-east-1'")
    if s.aws_endpoint is not None and not re.match(r"^https?://[^\s/]+", s.aws_endpoint):
        raise ConfigError(f"aws_endpoint: {s.aws_endpoint!r} must be an http(s) URL")
    _validate_backend(s.backend)
    _validate_network(s.network, s.region)
    _validate_model_cache(s.model_cache)
    _validate_service(s)
    if not s.image.build and not s.image.image_uri:
        raise ConfigError("image.image_uri: required when image.build is false")
    _validate_documents(s)
    if s.models.source != "official" and not re.match(r"^(s3|https?|file)://.+", s.models.source):
        raise ConfigError(f"models.source: {s.models.source!r} must be 'official' or an s3://, "
                          "http(s):// or file:// URL")


def _validate_backend(b: BackendSettings) -> None:
    if b.type == "s3" and not b.bucket:
        raise ConfigError("backend.bucket: required when backend.type is 's3'")
    if b.kms_key_id is not None and (b.type != "s3" or not _KMS_KEY_ARN.match(b.kms_key_id)):
        raise ConfigError(f"backend.kms_key_id: {b.kms_key_id!r} must be a KMS key ARN "
                          "(arn:aws:kms:<region>:<account>:key/<id>), with backend.type 's3'")
    if b.type == "cloud" and not b.organization:
        raise ConfigError("backend.organization: required when backend.type is 'cloud'")


def _validate_network(n: NetworkSettings, region: str) -> None:
    if n.vpc_id is not None:
        if not re.match(r"^vpc-[0-9a-f]+$", n.vpc_id):
            raise ConfigError(f"network.vpc_id: {n.vpc_id!r} is not a VPC id like 'vpc-0abc123'")
        if len(n.private_subnet_ids) < 2:
            raise ConfigError("network.private_subnet_ids: an existing VPC needs at least 2 private "
                              f"subnets in different AZs, got {len(n.private_subnet_ids)}")
        for i, subnet in enumerate(n.private_subnet_ids):
            if not re.match(r"^subnet-[0-9a-f]+$", subnet):
                raise ConfigError(f"network.private_subnet_ids[{i}]: {subnet!r} is not a subnet id")
        return
    if n.private_subnet_ids:
        raise ConfigError("network.private_subnet_ids: only valid together with network.vpc_id")
    try:
        net = ipaddress.IPv4Network(n.cidr)
    except ValueError as e:
        raise ConfigError(f"network.cidr: {n.cidr!r} is not a valid IPv4 CIDR ({e})") from None
    if not 16 <= net.prefixlen <= 24:
        raise ConfigError(f"network.cidr: prefix /{net.prefixlen} must be between /16 and /24")
    for i, zone in enumerate(n.availability_zones):
        if not re.match(rf"^{re.escape(region)}[a-z]$", zone):
            raise ConfigError(f"network.availability_zones[{i}]: {zone!r} is not a zone of region {region!r}")
    if len(set(n.availability_zones)) != len(n.availability_zones):
        raise ConfigError("network.availability_zones: names a zone twice")
    if n.availability_zones and len(n.availability_zones) != n.az_count:
        raise ConfigError(f"network.availability_zones: names {len(n.availability_zones)} zones but "
                          f"network.az_count is {n.az_count}")
    if not 2 <= n.az_count <= 6:
        raise ConfigError(f"network.az_count: must be between 2 and 6 (EFS and ECS need 2 AZs), "
                          f"got {n.az_count}")
    if n.flow_log_retention_days < 1:
        raise ConfigError("network.flow_log_retention_days: must be at least 1")


def _validate_model_cache(m: ModelCacheSettings) -> None:
    for key in ("uid", "gid"):
        if not 0 < getattr(m, key) < 2**31:
            raise ConfigError(f"model_cache.{key}: must be a positive POSIX id (root is not allowed)")
    if not re.match(r"^(/[A-Za-z0-9._-]+)+$", m.access_point_path):
        raise ConfigError(f"model_cache.access_point_path: {m.access_point_path!r} must be an "
                          "absolute path like '/paddleocr-models'")
    if m.existing_file_system_id is not None:
        if not re.match(r"^fs-[0-9a-f]+$", m.existing_file_system_id):
            raise ConfigError(f"model_cache.existing_file_system_id: {m.existing_file_system_id!r} "
                              "is not a file system id like 'fs-0abc123'")
        if m.create_mount_targets is not True and not m.existing_security_group_id:
            raise ConfigError("model_cache.existing_security_group_id: required for an adopted file "
                              "system unless create_mount_targets is true (the tasks need its NFS group)")
    elif m.existing_access_point_id or m.existing_security_group_id:
        raise ConfigError("model_cache.existing_access_point_id/existing_security_group_id: only "
                          "valid together with model_cache.existing_file_system_id")
    if m.throughput_mode == "provisioned" and not m.provisioned_throughput_mibps:
        raise ConfigError("model_cache.provisioned_throughput_mibps: required when "
                          "throughput_mode is 'provisioned'")
    if m.throughput_mode != "provisioned" and m.provisioned_throughput_mibps is not None:
        raise ConfigError("model_cache.provisioned_throughput_mibps: only valid when "
                          "throughput_mode is 'provisioned'")
    if m.kms_key_arn is not None and not m.kms_key_arn.startswith("arn:"):
        raise ConfigError(f"model_cache.kms_key_arn: {m.kms_key_arn!r} must be a KMS key ARN")


# Valid Fargate (cpu, memory) pairs: memory ranges in MiB per cpu unit count.
_FARGATE_MEMORY = {
    256: (512, 2048), 512: (1024, 4096), 1024: (2048, 8192), 2048: (4096, 16384),
    4096: (8192, 30720), 8192: (16384, 61440), 16384: (32768, 122880),
}


def _validate_service(s: Settings) -> None:
    sv = s.service
    if sv.cpu not in _FARGATE_MEMORY:
        raise ConfigError(f"service.cpu: {sv.cpu} is not a Fargate size ({sorted(_FARGATE_MEMORY)})")
    low, high = _FARGATE_MEMORY[sv.cpu]
    if not low <= sv.memory <= high:
        raise ConfigError(f"service.memory: {sv.memory} MiB does not fit cpu {sv.cpu} "
                          f"(Fargate allows {low}-{high})")
    version = tuple(int(p) for p in sv.platform_version.split(".")) if re.match(
        r"^\d+\.\d+\.\d+$", sv.platform_version) else None
    if version is None or version < (1, 4, 0):
        raise ConfigError(f"service.platform_version: {sv.platform_version!r} must be 1.4.0 or "
                          "later (EFS volumes need it)")
    if not 0 <= sv.min_tasks <= sv.max_tasks or sv.max_tasks < 1:
        raise ConfigError(f"service.min_tasks/max_tasks: need 0 <= min_tasks <= max_tasks and "
                          f"max_tasks >= 1, got {sv.min_tasks}/{sv.max_tasks}")
    if sv.backlog_per_task < 1:
        raise ConfigError("service.backlog_per_task: must be at least 1")
    if not sv.cache_mount_path.startswith("/"):
        raise ConfigError(f"service.cache_mount_path: {sv.cache_mount_path!r} must be absolute")


def _validate_documents(s: Settings) -> None:
    d = s.documents
    for key in ("input_prefix", "output_prefix"):
        prefix = getattr(d, key)
        if not prefix.endswith("/") or prefix.startswith("/"):
            raise ConfigError(f"documents.{key}: {prefix!r} must be relative and end with '/'")
    if not 1 <= d.max_receive_count <= 1000:
        raise ConfigError("documents.max_receive_count: must be between 1 and 1000")
    if not 30 <= d.max_document_seconds <= 6 * 3600:
        raise ConfigError("documents.max_document_seconds: must be between 30 and 21600")
