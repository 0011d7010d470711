#!/usr/bin/env python
"""moto's server, with the gaps that Terraform's AWS provider 5.100 runs into filled in.

Never change the deployed configuration to suit moto: every fix is here, and each one says what
moto 5.2.5 lacks or answers differently from AWS. Usage: moto_launcher.py HOST PORT CERT KEY
"""

import json
import sys


def fill_gaps() -> None:
    _efs_backup_and_policy_calls()
    _s3_bucket_policy_conditions()
    _application_autoscaling_tags()
    _sqs_compact_redrive_policy()
    _ecs_service_placement()
    _ec2_referenced_group_rule_description()
    _s3_event_version_and_sequencer()
    _efs_signature_under_iam_enforcement()


def _efs_signature_under_iam_enforcement() -> None:
    """With IAM enforced, moto answers every EFS API call SignatureDoesNotMatch: its SigV4 check
    does not reproduce the signature botocore makes for EFS's REST API. EFS calls are not checked
    here; the task role makes none (it mounts over NFS), the operator command's status does."""
    from moto.efs.responses import EFSResponse

    EFSResponse._authenticate_and_authorize_normal_action = lambda self, resource="*": None


def _sqs_compact_redrive_policy() -> None:
    """SQS returns RedrivePolicy as spaced JSON; AWS returns it compact, as the provider expects."""
    from moto.sqs.models import Queue

    spaced = Queue.attributes.fget

    def attributes(self):
        result = spaced(self)
        if "RedrivePolicy" in result:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        return result

    Queue.attributes = property(attributes)


def _ecs_service_placement() -> None:
    """ECS drops availabilityZoneRebalancing and capacityProviderStrategy at create (and update),
    and reports launchType EC2 for a service placed by strategy; AWS keeps and returns both and
    reports no launch type then (CreateService: launchType and capacityProviderStrategy are
    exclusive)."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    def keeping(original):
        def handler(self):
            result = original(self)
            service = result.result["service"]
            value = self._get_param("availabilityZoneRebalancing")
            if value:
                service.availability_zone_rebalancing = value
            strategy = self._get_param("capacityProviderStrategy")
            if strategy:
                service.capacity_provider_strategy = [{"base": 0, **s} for s in strategy]
                service.launch_type = None
            return result
        return handler

    EC2ContainerServiceResponse.create_service = keeping(EC2ContainerServiceResponse.create_service)
    EC2ContainerServiceResponse.update_service = keeping(EC2ContainerServiceResponse.update_service)


def _application_autoscaling_tags() -> None:
    """Application Auto Scaling ListTagsForResource, TagResource and UntagResource are missing."""
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    tags: dict[str, dict[str, str]] = {}

    def list_tags_for_resource(self):
        return json.dumps({"Tags": tags.get(self._get_param("ResourceARN"), {})})

    def tag_resource(self):
        tags.setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self):
        for key in self._get_param("TagKeys") or []:
            tags.get(self._get_param("ResourceARN"), {}).pop(key, None)
        return "{}"

    register = ApplicationAutoScalingResponse.register_scalable_target

    def register_scalable_target(self):
        body = register(self)  # tags given at registration are kept, as AWS does
        tags.setdefault(json.loads(body)["ScalableTargetARN"], {}).update(self._get_param("Tags") or {})
        return body

    ApplicationAutoScalingResponse.register_scalable_target = register_scalable_target
    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource
    ApplicationAutoScalingResponse.tag_resource = tag_resource
    ApplicationAutoScalingResponse.untag_resource = untag_resource


def _s3_bucket_policy_conditions() -> None:
    """moto applies bucket-policy statements without their conditions, so a TLS-only Deny denies
    every request. This server really serves TLS: evaluate aws:SecureTransport as true, and skip a
    statement with any condition moto cannot evaluate (AWS would evaluate it; moto cannot)."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult
    from moto.s3.models import FakeBucket

    def condition_holds(condition: dict) -> bool:
        for test, pairs in condition.items():
            for key, values in pairs.items():
                values = [str(v).lower() for v in (values if isinstance(values, list) else [values])]
                if not (test == "Bool" and key == "aws:SecureTransport" and "true" in values):
                    return False
        return True

    def get_permission(self, action: str, resource: str):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        statements = json.loads(self.policy)["Statement"]
        permitted = False
        for st in statements if isinstance(statements, list) else [statements]:
            if "Condition" in st:
                if not condition_holds(st["Condition"]):
                    continue
                st = {k: v for k, v in st.items() if k != "Condition"}
            result = IAMPolicyStatement(st).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return result
            permitted |= result == PermissionResult.PERMITTED
        return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL

    FakeBucket.get_permission = get_permission


def _efs_backup_and_policy_calls() -> None:
    """EFS PutBackupPolicy and DeleteFileSystemPolicy are not implemented, and DescribeBackupPolicy
    answers 'not found' where AWS answers status DISABLED."""
    from moto.efs.responses import EFSResponse

    def file_system(self):
        file_system_id = self._get_param("FileSystemId")
        self.efs_backend.describe_file_systems(file_system_id=file_system_id)  # FileSystemNotFound if unknown
        return self.efs_backend.file_systems_by_id[file_system_id]

    def backup_policy(fs) -> str:
        return json.dumps({"BackupPolicy": {"Status": "ENABLED" if fs._backup else "DISABLED"}})

    def put_backup_policy(self):
        fs = file_system(self)
        fs._backup = json.loads(self.body)["BackupPolicy"]["Status"] == "ENABLED"
        return backup_policy(fs), {"Content-Type": "application/json"}

    def describe_backup_policy(self):
        return backup_policy(file_system(self)), {"Content-Type": "application/json"}

    def delete_file_system_policy(self):
        file_system(self).file_system_policy = None
        return "{}", {"Content-Type": "application/json"}

    EFSResponse.put_backup_policy = put_backup_policy
    EFSResponse.describe_backup_policy = describe_backup_policy
    EFSResponse.delete_file_system_policy = delete_file_system_policy


def _ec2_referenced_group_rule_description() -> None:
    """EC2 drops the description of a rule that references another security group: moto keeps it
    with the group reference but reports only a CIDR range's description."""
    from moto.ec2.models.security_groups import SecurityGroupRule

    SecurityGroupRule.description = property(
        lambda self: self.ip_range.get("Description") or (self.source_group or {}).get("Description"))


def _s3_event_version_and_sequencer() -> None:
    """S3 event notifications carry the object's versionId (in a versioning-enabled bucket) and a
    sequencer that orders the events of one key ("Event message structure", Amazon S3 User
    Guide); moto's records have neither."""
    import itertools

    from moto.s3 import notifications

    without = notifications._get_s3_event
    sequence = itertools.count(1)

    def with_version(event_name, bucket, key, notification_id):
        event = without(event_name, bucket, key, notification_id)
        obj = event["Records"][0]["s3"]["object"]
        obj["sequencer"] = f"{next(sequence):016X}"
        if bucket.is_versioned:
            obj["versionId"] = key.version_id
        return event

    notifications._get_s3_event = with_version


def main() -> None:
    host, port, cert, key = sys.argv[1:5]
    fill_gaps()
    from moto.server import main as moto_main

    moto_main(["-H", host, "-p", port, "-c", cert, "-k", key])


if __name__ == "__main__":
    main()
