"""The shared PaddleX model cache: an encrypted EFS file system, its access point and its network."""

from __future__ import annotations

from typing import Optional, Sequence

from cdktf import Fn, TerraformIterator, Token

from cdktf_cdktf_provider_aws.data_aws_efs_access_point import DataAwsEfsAccessPoint
from cdktf_cdktf_provider_aws.data_aws_efs_file_system import DataAwsEfsFileSystem
from cdktf_cdktf_provider_aws.efs_access_point import (
    EfsAccessPoint,
    EfsAccessPointPosixUser,
    EfsAccessPointRootDirectory,
    EfsAccessPointRootDirectoryCreationInfo,
)
from cdktf_cdktf_provider_aws.efs_backup_policy import EfsBackupPolicy, EfsBackupPolicyBackupPolicy
from cdktf_cdktf_provider_aws.efs_file_system import EfsFileSystem, EfsFileSystemLifecyclePolicy
from cdktf_cdktf_provider_aws.efs_file_system_policy import EfsFileSystemPolicy
from cdktf_cdktf_provider_aws.efs_mount_target import EfsMountTarget
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from constructs_lib.config import ModelCacheSettings
from constructs_lib.policy import deny_without_tls, grant, policy_document, statement

NFS = 2049

READ_ACTIONS = ("elasticfilesystem:ClientMount",)
WRITE_ACTIONS = ("elasticfilesystem:ClientWrite",)
#: Every NFS client action; ClientRootAccess is never granted by this construct.
CLIENT_ACTIONS = READ_ACTIONS + WRITE_ACTIONS + ("elasticfilesystem:ClientRootAccess",)


class ModelCache(Construct):
    """An EFS file system for the PaddleX model cache, reachable only from ``client_security_group_id``.

    Defaults (see :class:`~constructs_lib.config.ModelCacheSettings`): encrypted at rest with the
    AWS-managed key, generalPurpose performance, elastic throughput, IA after 30 days and back
    after one access, AWS Backup on, one mount target per subnet, and a file system policy that
    denies any access without TLS or not through this construct's access point.

    Give ``settings.existing_file_system_id`` to adopt a file system made by hand: no new EFS,
    and mount targets and the access point only as configured.
    """

    file_system_id: str
    file_system_arn: str
    access_point_id: str
    access_point_arn: str
    security_group_id: str

    def __init__(self, scope: Construct, id: str, *, settings: ModelCacheSettings, vpc_id: str,
                 subnets_by_az, client_security_group_id: str, name: Optional[str] = None) -> None:
        """``subnets_by_az``: zone name -> subnet id, a dict or a map token such as
        ``Network.private_subnets_by_az``; one mount target per zone, keyed by zone name (EFS
        allows one per zone)."""
        super().__init__(scope, id)
        self.settings = settings
        name = name or settings.name
        adopted = settings.existing_file_system_id is not None
        create_mount_targets = (not adopted) if settings.create_mount_targets is None else settings.create_mount_targets

        if adopted:
            fs = DataAwsEfsFileSystem(self, "file-system", file_system_id=settings.existing_file_system_id)
        else:
            fs = self._create_file_system(settings, name)
        self.file_system_id, self.file_system_arn = fs.id, fs.arn

        if settings.existing_security_group_id:
            self.security_group_id = settings.existing_security_group_id
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

        if settings.existing_access_point_id:
            ap = DataAwsEfsAccessPoint(self, "access-point", access_point_id=settings.existing_access_point_id)
        else:
            ap = EfsAccessPoint(
                self, "access-point", file_system_id=fs.id,
                # Every client acts as uid:gid whatever user the container runs as.
                posix_user=EfsAccessPointPosixUser(uid=settings.uid, gid=settings.gid),
                root_directory=EfsAccessPointRootDirectory(
                    path=settings.access_point_path,
                    creation_info=EfsAccessPointRootDirectoryCreationInfo(
                        owner_uid=settings.uid, owner_gid=settings.gid, permissions="0755")),
                tags={"Name": f"{name}-models"})
        self.access_point_id, self.access_point_arn = ap.id, ap.arn

        if settings.manage_policy:
            document = policy_document(self, "policy-document", [
                deny_without_tls(["*"], [fs.arn]),
                statement("DenyOutsideAccessPoint", CLIENT_ACTIONS, [fs.arn], effect="Deny",
                          principals={"AWS": ["*"]},
                          conditions=[("StringNotEquals", "elasticfilesystem:AccessPointArn", [ap.arn])]),
            ])
            EfsFileSystemPolicy(self, "policy", file_system_id=fs.id, policy=document.json)

    def _create_file_system(self, s: ModelCacheSettings, name: str) -> EfsFileSystem:
        lifecycle = [EfsFileSystemLifecyclePolicy(transition_to_primary_storage_class="AFTER_1_ACCESS")]
        days = s.transition_to_ia_days
        if days:
            lifecycle.insert(0, EfsFileSystemLifecyclePolicy(transition_to_ia=f"AFTER_{days}_DAY{'S' if days > 1 else ''}"))
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

    # -- grants --------------------------------------------------------------------------------

    def grant_read(self, role: IamRole) -> IamRolePolicy:
        """Let ``role`` mount the cache read-only, through the access point only."""
        return self._grant(role, "model-cache-read", READ_ACTIONS)

    def grant_read_write(self, role: IamRole) -> IamRolePolicy:
        """Let ``role`` mount the cache and write to it, through the access point only."""
        return self._grant(role, "model-cache-read-write", READ_ACTIONS + WRITE_ACTIONS)

    def _grant(self, role: IamRole, name: str, actions: Sequence[str]) -> IamRolePolicy:
        return grant(self, role, name, [statement(
            "ModelCacheViaAccessPoint", actions, [self.file_system_arn],
            conditions=[("StringEquals", "elasticfilesystem:AccessPointArn", [self.access_point_arn])])])
