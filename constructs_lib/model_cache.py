"""The shared PaddleX model cache: an encrypted EFS file system, its access point and its network."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal, Optional, Sequence

from constructs import Construct

from constructs_lib import validation
from constructs_lib.framework import Fn, TerraformIterator, Token, aws
from constructs_lib.metrics import Metric
from constructs_lib.naming import Names
from constructs_lib.policy import Role, Statement, deny_without_tls, grant, policy_document, statement
from constructs_lib.validation import Props, check

DataAwsEfsAccessPoint = aws.data_aws_efs_access_point.DataAwsEfsAccessPoint
DataAwsEfsFileSystem = aws.data_aws_efs_file_system.DataAwsEfsFileSystem
EfsAccessPoint = aws.efs_access_point.EfsAccessPoint
EfsAccessPointPosixUser = aws.efs_access_point.EfsAccessPointPosixUser
EfsAccessPointRootDirectory = aws.efs_access_point.EfsAccessPointRootDirectory
EfsAccessPointRootDirectoryCreationInfo = aws.efs_access_point.EfsAccessPointRootDirectoryCreationInfo
EfsBackupPolicy = aws.efs_backup_policy.EfsBackupPolicy
EfsBackupPolicyBackupPolicy = aws.efs_backup_policy.EfsBackupPolicyBackupPolicy
EfsFileSystem = aws.efs_file_system.EfsFileSystem
EfsFileSystemLifecyclePolicy = aws.efs_file_system.EfsFileSystemLifecyclePolicy
EfsFileSystemPolicy = aws.efs_file_system_policy.EfsFileSystemPolicy
EfsMountTarget = aws.efs_mount_target.EfsMountTarget
IamRolePolicy = aws.iam_role_policy.IamRolePolicy
SecurityGroup = aws.security_group.SecurityGroup
VpcSecurityGroupEgressRule = aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule
VpcSecurityGroupIngressRule = aws.vpc_security_group_ingress_rule.VpcSecurityGroupIngressRule

NFS = 2049

READ_ACTIONS = ("elasticfilesystem:ClientMount",)
WRITE_ACTIONS = ("elasticfilesystem:ClientWrite",)
#: Every NFS client action; ClientRootAccess is never granted by this construct.
CLIENT_ACTIONS = READ_ACTIONS + WRITE_ACTIONS + ("elasticfilesystem:ClientRootAccess",)

#: EFS lifecycle TransitionToIA values, in days: AFTER_1_DAY ... AFTER_365_DAYS
#: (https://docs.aws.amazon.com/efs/latest/ug/API_LifecyclePolicy.html); 0 turns it off.
IA_DAYS = (0, 1, 7, 14, 30, 60, 90, 180, 270, 365)


@dataclass(frozen=True)
class ModelCacheProps(Props):
    """The EFS file system that holds the PaddleX model cache.

    Attributes:
        name: The file system's Name tag. Default ``<project>-paddleocr-models``.
        existing_file_system_id: Adopt a file system made by hand from the guide instead of
            creating one.
        existing_security_group_id: Adopted file system: the security group of its mount
            targets. Required unless ``create_mount_targets`` is true.
        existing_access_point_id: Adopted file system: use this access point instead of creating
            one.
        create_mount_targets: One mount target per private subnet. Default: yes for a new file
            system, no for an adopted one (the guide already made them).
        manage_policy: Manage the file system policy (TLS only, access point only). Default on.
        access_point_path: The access point's root directory, created with ``uid``:``gid`` and
            mode 0755. Default ``/paddleocr-models``.
        uid: POSIX user of every client; the containers run as the same uid. Default 1000. An
            adopted access point has its own, which the containers run as: leave this unset.
        gid: POSIX group of every client. Default 1000. Likewise.
        kms_key_arn: Encrypt with this customer KMS key (an ARN). Default: the AWS-managed key
            ``aws/elasticfilesystem``.
        throughput_mode: ``elastic`` (default), ``bursting`` or ``provisioned``.
        provisioned_throughput_mibps: provisioned mode only: MiB/s, 1 to 3414.
        transition_to_ia_days: Move files not read for this many days to Infrequent Access; 0
            turns it off. Default 30.
        backups: AWS Backup of the file system. Default on.
    """

    name: Optional[str] = None
    existing_file_system_id: Optional[str] = None
    existing_security_group_id: Optional[str] = None
    existing_access_point_id: Optional[str] = None
    create_mount_targets: Optional[bool] = None
    manage_policy: bool = True
    access_point_path: str = "/paddleocr-models"
    uid: int = 1000
    gid: int = 1000
    kms_key_arn: Optional[str] = None
    throughput_mode: Literal["elastic", "bursting", "provisioned"] = "elastic"
    provisioned_throughput_mibps: Optional[int] = None
    transition_to_ia_days: Literal[0, 1, 7, 14, 30, 60, 90, 180, 270, 365] = 30
    backups: bool = True

    def validate(self) -> None:
        if self.name is not None:
            # Tag values: https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html
            validation.tags("name", {"Name": self.name})
        validation.posix_id("uid", self.uid)
        validation.posix_id("gid", self.gid)
        validation.access_point_path("access_point_path", self.access_point_path)
        if self.existing_file_system_id is not None:
            validation.resource_id("existing_file_system_id", self.existing_file_system_id, "fs")
            check(self.create_mount_targets is True or bool(self.existing_security_group_id),
                  "existing_security_group_id", "required for an adopted file system unless create_mount_targets "
                                                "is true (the tasks need its NFS group)")
            if self.existing_security_group_id:
                validation.resource_id("existing_security_group_id", self.existing_security_group_id, "sg")
            if self.existing_access_point_id:
                validation.resource_id("existing_access_point_id", self.existing_access_point_id, "fsap")
                defaults = {f.name: f.default for f in fields(self)}
                for key in ("uid", "gid"):  # the access point's own POSIX user applies
                    check(getattr(self, key) == defaults[key], key, "an adopted access point has its own POSIX user, "
                                                           "which the containers run as; remove this key")
        else:
            for key in ("existing_access_point_id", "existing_security_group_id"):
                check(getattr(self, key) is None, key, "only valid together with existing_file_system_id")
        check(self.throughput_mode in ("elastic", "bursting", "provisioned"), "throughput_mode",
              f"{self.throughput_mode!r} must be 'elastic', 'bursting' or 'provisioned'")
        if self.throughput_mode == "provisioned":
            # ProvisionedThroughputInMibps: 1 to 3414 (API_CreateFileSystem).
            # https://docs.aws.amazon.com/efs/latest/ug/API_CreateFileSystem.html
            check(self.provisioned_throughput_mibps is not None and 1 <= self.provisioned_throughput_mibps <= 3414,
                  "provisioned_throughput_mibps", "required with throughput_mode 'provisioned': 1 to 3414 MiB/s")
        else:
            check(self.provisioned_throughput_mibps is None, "provisioned_throughput_mibps",
                  "only valid when throughput_mode is 'provisioned'")
        check(self.transition_to_ia_days in IA_DAYS, "transition_to_ia_days",
              f"{self.transition_to_ia_days} must be one of {', '.join(map(str, IA_DAYS))}")
        if self.kms_key_arn is not None:
            validation.kms_key_arn("kms_key_arn", self.kms_key_arn)


class ModelCache(Construct):
    """An EFS file system for the PaddleX model cache, reachable only from ``client_security_group_id``.

    Defaults (see :class:`ModelCacheProps`): encrypted at rest with the AWS-managed key,
    generalPurpose performance, elastic throughput, IA after 30 days and back after one access, AWS
    Backup on, one mount target per subnet, and a file system policy that denies any access without
    TLS or not through this construct's access point.

    Give ``props.existing_file_system_id`` to adopt a file system made by hand: no new EFS, and
    mount targets and the access point only as configured.

    Size: the file system, its network, its access point and its policy are the parts of one
    resource and share the adopt-or-create choice; its metrics are one-line methods.
    """

    file_system_id: str
    file_system_arn: str
    access_point_id: str
    access_point_arn: str
    security_group_id: str
    #: The file system's throughput mode: the props' for a new one, read from it when adopted.
    throughput_mode: str
    #: The access point's POSIX user, which every client acts as: the props' for a new access
    #: point, read from it (as Terraform expressions) when adopted. The containers run as it.
    uid: int | str
    gid: int | str

    def __init__(self, scope: Construct, id: str, props: Optional[ModelCacheProps] = None, *, project: str,
                 vpc_id: str, subnets_by_az, client_security_group_id: str) -> None:
        """``subnets_by_az``: zone name -> subnet id, a dict or a map token such as
        ``Network.private_subnets_by_az``; one mount target per zone, keyed by zone name (EFS allows one per
        zone). Attributes: ``file_system_id``/``_arn``, ``access_point_id``/``_arn``, ``security_group_id``,
        ``uid``, ``gid``, ``throughput_mode`` (read from the data sources when adopted), ``props``."""
        super().__init__(scope, id)
        props = self.props = props or ModelCacheProps()
        name = props.name or Names(project).file_system
        adopted = props.existing_file_system_id is not None
        create_mount_targets = (not adopted) if props.create_mount_targets is None else props.create_mount_targets

        fs: DataAwsEfsFileSystem | EfsFileSystem
        if adopted:
            fs = DataAwsEfsFileSystem(self, "file-system", file_system_id=props.existing_file_system_id)
        else:
            fs = self._create_file_system(props, name)
        self.file_system_id, self.file_system_arn = fs.id, fs.arn
        self.throughput_mode = fs.throughput_mode if adopted else props.throughput_mode

        if props.existing_security_group_id:
            self.security_group_id = props.existing_security_group_id
        else:
            sg = SecurityGroup(self, "security-group", name=f"{name}-efs", vpc_id=vpc_id,
                               description="EFS model cache: NFS from the ECS task security group only",
                               tags={"Name": f"{name}-efs"})
            self.security_group_id = sg.id
        # The only way in: NFS from the tasks' group, and the matching egress on that group.
        VpcSecurityGroupIngressRule(
            self, "nfs-from-tasks", security_group_id=self.security_group_id, ip_protocol="tcp",
            from_port=NFS, to_port=NFS, referenced_security_group_id=client_security_group_id,
            description="NFS from PaddleOCR tasks")
        VpcSecurityGroupEgressRule(
            self, "tasks-nfs-out", security_group_id=client_security_group_id, ip_protocol="tcp",
            from_port=NFS, to_port=NFS, referenced_security_group_id=self.security_group_id,
            description="NFS to the model cache")

        if create_mount_targets:
            # Keyed by zone, so a zone added or reordered never replaces another's mount target.
            # Cross-stack values arrive marked sensitive, which for_each refuses: the zone names
            # and subnet ids are not secret.
            zones = TerraformIterator.from_map(Token.as_any_map(Fn.nonsensitive(subnets_by_az)))
            EfsMountTarget(self, "mount-target", for_each=zones, file_system_id=fs.id, subnet_id="${each.value}",
                           security_groups=[self.security_group_id])

        ap: DataAwsEfsAccessPoint | EfsAccessPoint
        if props.existing_access_point_id:
            ap = DataAwsEfsAccessPoint(self, "access-point", access_point_id=props.existing_access_point_id)
        else:
            ap = EfsAccessPoint(
                self, "access-point", file_system_id=fs.id,
                # Every client acts as uid:gid whatever user the container runs as.
                posix_user=EfsAccessPointPosixUser(uid=props.uid, gid=props.gid),
                root_directory=EfsAccessPointRootDirectory(
                    path=props.access_point_path,
                    creation_info=EfsAccessPointRootDirectoryCreationInfo(
                        owner_uid=props.uid, owner_gid=props.gid, permissions="0755")),
                tags={"Name": f"{name}-models"})
        self.access_point_id, self.access_point_arn = ap.id, ap.arn
        if isinstance(ap, DataAwsEfsAccessPoint):
            user = ap.posix_user.get(0)
            self.uid, self.gid = Token.as_string(user.uid), Token.as_string(user.gid)
        else:
            self.uid, self.gid = props.uid, props.gid

        if props.manage_policy:
            document = policy_document(self, "policy-document", [
                deny_without_tls(["*"], [fs.arn]),
                statement("DenyOutsideAccessPoint", CLIENT_ACTIONS, [fs.arn], effect="Deny",
                          principals={"AWS": ["*"]},
                          conditions=[("StringNotEquals", "elasticfilesystem:AccessPointArn", [ap.arn])]),
            ])
            EfsFileSystemPolicy(self, "policy", file_system_id=fs.id, policy=document.json)

    def _create_file_system(self, s: ModelCacheProps, name: str) -> EfsFileSystem:
        lifecycle = [EfsFileSystemLifecyclePolicy(transition_to_primary_storage_class="AFTER_1_ACCESS")]
        days = s.transition_to_ia_days
        if days:
            ia = f"AFTER_{days}_DAY{'S' if days > 1 else ''}"
            lifecycle.insert(0, EfsFileSystemLifecyclePolicy(transition_to_ia=ia))
        fs = EfsFileSystem(
            self, "file-system",
            encrypted=True,
            kms_key_id=s.kms_key_arn,
            performance_mode="generalPurpose",
            throughput_mode=s.throughput_mode,
            provisioned_throughput_in_mibps=s.provisioned_throughput_mibps,
            lifecycle_policy=lifecycle,
            tags={"Name": name})
        EfsBackupPolicy(self, "backup-policy", file_system_id=fs.id,
                        backup_policy=EfsBackupPolicyBackupPolicy(status="ENABLED" if s.backups else "DISABLED"))
        return fs

    @property
    def posix_user(self) -> str:
        """``uid:gid``, the ``user`` of a container that mounts this cache."""
        return f"{self.uid}:{self.gid}"

    # -- metrics (AWS/EFS) ---------------------------------------------------------------------

    def metric(self, name: str, stat: str) -> Metric:
        """Any of "Amazon CloudWatch metrics for Amazon EFS" for this file system."""
        return Metric("AWS/EFS", name, {"FileSystemId": self.file_system_id}, stat)

    def metric_percent_io_limit(self, stat: str = "Maximum") -> Metric:
        """How near the generalPurpose I/O limit the file system is."""
        return self.metric("PercentIOLimit", stat)

    def metric_burst_credit_balance(self, stat: str = "Minimum") -> Metric:
        """Burst credits left (bursting throughput only)."""
        return self.metric("BurstCreditBalance", stat)

    def metric_client_connections(self, stat: str = "Sum") -> Metric:
        return self.metric("ClientConnections", stat)

    def metric_data_read_bytes(self, stat: str = "Sum") -> Metric:
        return self.metric("DataReadIOBytes", stat)

    def metric_permitted_throughput(self, stat: str = "Average") -> Metric:
        """Bytes per second the file system may deliver now."""
        return self.metric("PermittedThroughput", stat)

    def metric_metered_io_bytes(self, stat: str = "Sum") -> Metric:
        """Bytes metered; per second, it is SUM / PERIOD."""
        return self.metric("MeteredIOBytes", stat)

    # -- grants --------------------------------------------------------------------------------

    def grant_read(self, role: Role) -> IamRolePolicy:
        """Let ``role`` mount the cache read-only, through the access point only."""
        return self._grant(role, "model-cache-read", READ_ACTIONS)

    def grant_read_write(self, role: Role) -> IamRolePolicy:
        """Let ``role`` mount the cache and write to it, through the access point only."""
        return self._grant(role, "model-cache-read-write", READ_ACTIONS + WRITE_ACTIONS)

    def operator_statements(self) -> list[Statement]:
        """``paddleocr-efs status``: the file system and its mount targets (Amazon EFS's resource)."""
        actions = ["elasticfilesystem:DescribeFileSystems", "elasticfilesystem:DescribeMountTargets"]
        return [statement("ModelCacheState", actions, [self.file_system_arn])]

    def _grant(self, role: Role, name: str, actions: Sequence[str]) -> IamRolePolicy:
        return grant(role, name, [statement(
            "ModelCacheViaAccessPoint", actions, [self.file_system_arn],
            conditions=[("StringEquals", "elasticfilesystem:AccessPointArn", [self.access_point_arn])])])
