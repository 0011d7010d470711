"""What AWS enforces at apply time, checked when a props object is built.

Each check raises :class:`ConfigError`, whose message is one line naming the field. Every rule
cites the page that states it; moto and ``terraform validate`` accept most of these values, AWS
does not.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from typing import Mapping, Optional, Sequence


class ConfigError(ValueError):
    """A bad setting. ``str(error)`` is one line: ``<owner>.<field>: <problem>``."""

    def __init__(self, field: str, problem: str, owner: str = "") -> None:
        self.field, self.problem, self.owner = field, problem, owner
        super().__init__(f"{owner + '.' if owner else ''}{field}: {problem}")


class Props:
    """Base of every construct's props dataclass: validated when built, so a construct used from
    code is as safe as the app. Errors name ``<Class>.<field>``."""

    def __post_init__(self) -> None:
        try:
            self.validate()
        except ConfigError as e:
            raise ConfigError(e.field, e.problem, type(self).__name__) from None

    def validate(self) -> None:  # pragma: no cover - overridden
        pass

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def check(ok: bool, field: str, problem: str) -> None:
    if not ok:
        raise ConfigError(field, problem)


def _pattern(field: str, value: str, pattern: str, length: tuple[int, int], what: str) -> None:
    low, high = length
    check(low <= len(value) <= high, field, f"{value!r} must be {low}-{high} characters ({what})")
    check(re.fullmatch(pattern, value) is not None, field, f"{value!r} is not valid: {what}")


# -- names, per service -------------------------------------------------------------------------

#: The prefix of every derived name. Lower case because it starts S3 bucket names; at most 22
#: characters because the longest derived bucket prefix, ``<project>-paddleocr-out-``, must fit
#: Terraform's 37-character ``bucket_prefix`` (63 minus the 26-character unique suffix).
PROJECT_PATTERN = r"[a-z][a-z0-9-]{0,20}[a-z0-9]|[a-z]"


def project(field: str, value: str) -> None:
    _pattern(field, value, PROJECT_PATTERN, (1, 22),
             "lower-case letters, digits and '-', starting with a letter and not ending with '-'")


def s3_bucket_name(field: str, value: str) -> None:
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
    _pattern(field, value, r"[a-z0-9][a-z0-9.-]*[a-z0-9]", (3, 63),
             "S3 bucket names are lower-case letters, digits, '.' and '-', starting and ending with a "
             "letter or digit")
    check(".." not in value, field, f"{value!r}: S3 bucket names cannot contain '..'")
    check(not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value), field, f"{value!r}: S3 bucket names cannot be IP addresses")
    check(not value.startswith(("xn--", "sthree-", "amzn-s3-demo-")), field,
          f"{value!r}: S3 reserves the prefixes xn--, sthree- and amzn-s3-demo-")
    check(not value.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")), field,
          f"{value!r}: S3 reserves the suffixes -s3alias, --ol-s3, .mrap, --x-s3 and --table-s3")


def ecr_repository_name(field: str, value: str) -> None:
    # https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html
    _pattern(field, value, r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*", (2, 256),
             "ECR repository names are lower-case letters and digits, separated by '.', '_', '-' or '/'")


def iam_role_name(field: str, value: str) -> None:
    # https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
    _pattern(field, value, r"[\w+=,.@-]+", (1, 64), "IAM role names are letters, digits and +=,.@_-")


def ecs_name(field: str, value: str) -> None:
    # Cluster, service and task definition family alike: "Up to 255 letters (uppercase and
    # lowercase), numbers, underscores, and hyphens are allowed."
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html
    _pattern(field, value, r"[A-Za-z0-9_-]+", (1, 255), "ECS names are letters, digits, '_' and '-'")


def sqs_queue_name(field: str, value: str) -> None:
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
    _pattern(field, value, r"[A-Za-z0-9_-]+", (1, 80), "SQS queue names are letters, digits, '_' and '-'")


def log_group_name(field: str, value: str) -> None:
    # https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
    _pattern(field, value, r"[.\-_/#A-Za-z0-9]+", (1, 512), "log group names are letters, digits and ._-/#")
    check(not value.startswith("aws/"), field, f"{value!r}: the aws/ prefix is reserved for AWS services")


#: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)


def log_retention(field: str, days: int) -> None:
    check(days in LOG_RETENTION_DAYS, field,
          f"{days} is not a CloudWatch Logs retention period ({', '.join(map(str, LOG_RETENTION_DAYS))})")


# -- Fargate --------------------------------------------------------------------------------------


def _steps(low_gib: int, high_gib: int, step_gib: int) -> tuple[int, ...]:
    return tuple(range(low_gib * 1024, high_gib * 1024 + 1, step_gib * 1024))


#: Task cpu units -> the memory values (MiB) Fargate accepts, exactly:
#: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: _steps(1, 4, 1),
    1024: _steps(2, 8, 1),
    2048: _steps(4, 16, 1),
    4096: _steps(8, 30, 1),
    8192: _steps(16, 60, 4),
    16384: _steps(32, 120, 8),
}


def fargate_size(cpu: int, memory: int) -> None:
    check(cpu in FARGATE_SIZES, "cpu", f"{cpu} is not a Fargate task cpu value ({sorted(FARGATE_SIZES)})")
    allowed = FARGATE_SIZES[cpu]
    check(memory in allowed, "memory",
          f"{memory} MiB is not a Fargate memory value for cpu {cpu} ({allowed[0]}-{allowed[-1]} in steps of "
          f"{allowed[1] - allowed[0]})")


# -- EFS, paths, identities ---------------------------------------------------------------------


def access_point_path(field: str, value: str) -> None:
    # RootDirectory.Path: 1-100 characters, up to four subdirectories, pattern
    # ^(\/|(\/(?!\.)+[^$#<>;`|&?{}^*/\n]+){1,4})$
    # https://docs.aws.amazon.com/efs/latest/ug/API_RootDirectory.html
    # "/" would expose the whole file system: this construct always uses a subdirectory.
    _pattern(field, value, r"(/(?!\.)[^$#<>;`|&?{}^*/\n]+){1,4}", (2, 100),
             "an absolute path of 1-4 directories like '/paddleocr-models', none starting with '.', "
             "without $#<>;`|&?{}^*")


def posix_id(field: str, value: int) -> None:
    # PosixUser Uid/Gid: 0 to 4294967295 (API_PosixUser); root (0) would let every client act as
    # root on the cache, so it is refused here.
    check(isinstance(value, int) and 0 < value <= 4294967295, field,
          f"{value} must be a POSIX id from 1 to 4294967295 (root is not allowed)")


def absolute_path(field: str, value: str) -> None:
    check(re.fullmatch(r"(/[^/\0]+)+", value) is not None, field,
          f"{value!r} must be an absolute path like '/var/cache/paddlex' (no trailing '/')")


def paths_disjoint(field: str, value: str, other: str, what: str) -> None:
    """Two mount points may not be the same directory or one inside the other."""
    a, b = value.rstrip("/") + "/", other.rstrip("/") + "/"
    check(not (a.startswith(b) or b.startswith(a)), field, f"{value!r} collides with {what} {other!r}")


# -- ARNs, ids, tags, addresses ------------------------------------------------------------------

#: https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id-key-ARN
_KMS_KEY_ARN = r"arn:aws(-cn|-us-gov|-iso[a-z]*)?:kms:[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d:\d{12}:key/" \
               r"(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"


def kms_key_arn(field: str, value: str) -> None:
    check(re.fullmatch(_KMS_KEY_ARN, value) is not None, field,
          f"{value!r} must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key-id>), not an alias or id")


REGION_PATTERN = r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d"


def region(field: str, value: str) -> None:
    check(re.fullmatch(REGION_PATTERN, value) is not None, field,
          f"{value!r} is not an AWS region name like 'us-east-1'")


def zones(field: str, values: Sequence[str], in_region: Optional[str] = None) -> None:
    """Standard zones (``<region><letter>``) of one region, each named once."""
    for i, zone in enumerate(values):
        check(re.fullmatch(rf"({REGION_PATTERN})[a-z]", zone) is not None, f"{field}[{i}]",
              f"{zone!r} is not an availability zone name like 'us-east-1a'")
        home = zone[:-1]
        expected = in_region or values[0][:-1]
        check(home == expected, f"{field}[{i}]", f"{zone!r} is not a zone of region {expected!r}")
    check(len(set(values)) == len(values), field, "names a zone twice")


def resource_id(field: str, value: str, prefix: str) -> None:
    check(re.fullmatch(rf"{prefix}-[0-9a-f]{{8}}([0-9a-f]{{9}})?", value) is not None, field,
          f"{value!r} is not an id like '{prefix}-0123456789abcdef0'")


def distinct(field: str, values: Sequence[str]) -> None:
    seen = set()
    for i, value in enumerate(values):
        check(value not in seen, f"{field}[{i}]", f"{value!r} is listed twice")
        seen.add(value)


def cidr(field: str, value: str, prefix_range: tuple[int, int]) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.IPv4Network(value)
    except ValueError as e:
        raise ConfigError(field, f"{value!r} is not a valid IPv4 CIDR ({e})") from None
    low, high = prefix_range
    # https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html: /16 to /28; /24 leaves
    # room for two subnets per zone.
    check(low <= net.prefixlen <= high, field, f"prefix /{net.prefixlen} must be between /{low} and /{high}")
    return net


#: https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html#tag-conventions
_TAG_CHARS = r"[\w\s.:/=+\-@]*"
MAX_TAGS = 50


def tags(field: str, values: Mapping[str, str], reserved: int = 0) -> None:
    check(len(values) + reserved <= MAX_TAGS, field,
          f"{len(values)} tags plus the {reserved} this project adds exceed AWS's {MAX_TAGS} per resource")
    for key, value in values.items():
        check(1 <= len(key) <= 128 and re.fullmatch(_TAG_CHARS, key) is not None, f"{field}.{key}",
              "tag keys are 1-128 letters, digits, spaces and _.:/=+-@")
        check(not key.lower().startswith("aws:"), f"{field}.{key}", "the aws: prefix is reserved for AWS")
        check(isinstance(value, str) and len(value) <= 256 and re.fullmatch(_TAG_CHARS, value) is not None,
              f"{field}.{key}", f"{value!r}: tag values are 0-256 letters, digits, spaces and _.:/=+-@")


def email(field: str, value: str) -> None:
    # SNS "email" subscriptions need a deliverable address; a typo fails only when the
    # confirmation bounces, so refuse anything that is not shaped like one.
    check(re.fullmatch(r"[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", value) is not None and len(value) <= 254,
          field, f"{value!r} is not an e-mail address")


def url(field: str, value: str, schemes: Sequence[str]) -> None:
    check(re.match(rf"^({'|'.join(schemes)})://[^\s/]+", value) is not None, field,
          f"{value!r} must be a {', '.join(s + '://' for s in schemes)} URL")
