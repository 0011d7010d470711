"""ModelCache: each security property of the EFS model cache has its own test."""

import json

import pytest

from constructs_lib.framework import aws
from constructs_lib.model_cache import ModelCache, ModelCacheProps
from tests.synth import assert_refused, data_sources, new_stack, one, policy_statements, ref, resources, synth_stack


def synth_cache(grant=None, **model_cache):
    stack = new_stack()
    cache = ModelCache(stack, "cache", ModelCacheProps(**model_cache), project="sabuho", vpc_id="vpc-1",
                       subnets_by_az={"us-east-1a": "subnet-a", "us-east-1b": "subnet-b"},
                       client_security_group_id="sg-tasks")
    if grant:
        role = aws.iam_role.IamRole(stack, "role", name="r", assume_role_policy="{}")
        getattr(cache, grant)(role)
    return synth_stack(stack)


@pytest.fixture(scope="module")
def default():
    return synth_cache(grant="grant_read_write")


def test_encrypted_at_rest_with_aws_managed_key_by_default(default):
    fs = one(resources(default, "aws_efs_file_system"))
    assert fs["encrypted"] is True
    assert "kms_key_id" not in fs


def test_customer_kms_key_option():
    arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    fs = one(resources(synth_cache(kms_key_arn=arn), "aws_efs_file_system"))
    assert fs["encrypted"] is True and fs["kms_key_id"] == arn


def test_general_purpose_and_elastic_throughput(default):
    fs = one(resources(default, "aws_efs_file_system"))
    assert fs["performance_mode"] == "generalPurpose"
    assert fs["throughput_mode"] == "elastic"
    assert fs["tags"] == {"Name": "sabuho-paddleocr-models"}


def test_provisioned_throughput_option():
    fs = one(resources(synth_cache(throughput_mode="provisioned", provisioned_throughput_mibps=64),
                       "aws_efs_file_system"))
    assert fs["throughput_mode"] == "provisioned" and fs["provisioned_throughput_in_mibps"] == 64


def test_lifecycle_to_ia_and_back_after_one_access(default):
    assert one(resources(default, "aws_efs_file_system"))["lifecycle_policy"] == [
        {"transition_to_ia": "AFTER_30_DAYS"}, {"transition_to_primary_storage_class": "AFTER_1_ACCESS"}]


def test_backup_policy_configurable(default):
    assert one(resources(default, "aws_efs_backup_policy"))["backup_policy"] == {"status": "ENABLED"}
    off = synth_cache(backups=False)
    assert one(resources(off, "aws_efs_backup_policy"))["backup_policy"] == {"status": "DISABLED"}


def test_one_mount_target_per_zone_keyed_by_zone_name(default):
    # EFS allows one mount target per zone; keyed by zone, none is replaced when zones change.
    target = one(resources(default, "aws_efs_mount_target"))
    assert target["for_each"] == '${nonsensitive({"us-east-1a" = "subnet-a", "us-east-1b" = "subnet-b"})}'
    assert target["subnet_id"] == "${each.value}" and len(target["security_groups"]) == 1


def test_sg_has_exactly_one_ingress_rule_from_the_task_group_never_a_cidr(default):
    rule = one(resources(default, "aws_vpc_security_group_ingress_rule"))
    assert (rule["from_port"], rule["to_port"], rule["ip_protocol"]) == (2049, 2049, "tcp")
    assert rule["referenced_security_group_id"] == "sg-tasks"
    assert not {"cidr_ipv4", "cidr_ipv6", "prefix_list_id"} & rule.keys()
    assert "ingress" not in one(resources(default, "aws_security_group"))


def test_task_group_gets_nfs_egress_to_the_efs_group_only(default):
    rule = one(resources(default, "aws_vpc_security_group_egress_rule"))
    assert rule["security_group_id"] == "sg-tasks"
    assert rule["from_port"] == rule["to_port"] == 2049
    assert rule["referenced_security_group_id"].startswith("${aws_security_group.")


def test_access_point_posix_identity_and_root_owner(default):
    ap = one(resources(default, "aws_efs_access_point"))
    assert ap["posix_user"] == {"uid": 1000, "gid": 1000}
    assert ap["root_directory"] == {"path": "/paddleocr-models", "creation_info": {
        "owner_uid": 1000, "owner_gid": 1000, "permissions": "0755"}}


def test_file_system_policy_denies_access_without_tls(default):
    statements = policy_statements(default, one(resources(default, "aws_efs_file_system_policy"))["policy"])
    tls = next(s for s in statements if s["sid"] == "DenyWithoutTls")
    assert tls["effect"] == "Deny" and tls["actions"] == ["*"]
    assert tls["principals"] == [{"type": "AWS", "identifiers": ["*"]}]
    assert tls["condition"] == [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]


def test_file_system_policy_denies_clients_outside_the_access_point(default):
    statements = policy_statements(default, one(resources(default, "aws_efs_file_system_policy"))["policy"])
    ap = next(s for s in statements if s["sid"] == "DenyOutsideAccessPoint")
    assert ap["effect"] == "Deny"
    assert set(ap["actions"]) == {"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite",
                                  "elasticfilesystem:ClientRootAccess"}
    assert ap["condition"] == [{"test": "StringNotEquals", "variable": "elasticfilesystem:AccessPointArn",
                                "values": [ref(default, "aws_efs_access_point", "arn")]}]
    assert len(statements) == 2  # nothing is allowed by the resource policy itself


def _grant_statement(doc):
    policy = one(resources(doc, "aws_iam_role_policy"))
    return one(policy_statements(doc, policy["policy"])), policy


def test_grant_read_write_actions_resource_and_condition(default):
    st, policy = _grant_statement(default)
    assert policy["name"] == "model-cache-read-write"
    assert st["effect"] == "Allow"
    assert st["actions"] == ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    assert st["resources"] == [ref(default, "aws_efs_file_system", "arn")]
    assert st["condition"] == [{"test": "StringEquals", "variable": "elasticfilesystem:AccessPointArn",
                                "values": [ref(default, "aws_efs_access_point", "arn")]}]


def test_grant_read_is_mount_only():
    st, policy = _grant_statement(synth_cache(grant="grant_read"))
    assert policy["name"] == "model-cache-read"
    assert st["actions"] == ["elasticfilesystem:ClientMount"]


def test_never_grants_root_access_or_the_managed_client_policy(default):
    text = json.dumps(default)
    assert "AmazonElasticFileSystemClientReadWriteAccess" not in text
    st, _ = _grant_statement(default)
    assert "elasticfilesystem:ClientRootAccess" not in st["actions"]
    assert resources(default, "aws_iam_role_policy_attachment") == []


def test_adopt_existing_file_system_creates_no_new_efs():
    doc = synth_cache(existing_file_system_id="fs-0123456789abcdef0", existing_security_group_id="sg-0123456789abcdef0")
    assert resources(doc, "aws_efs_file_system") == []
    assert resources(doc, "aws_efs_backup_policy") == []
    assert one(data_sources(doc, "aws_efs_file_system"))["file_system_id"] == "fs-0123456789abcdef0"
    assert resources(doc, "aws_efs_mount_target") == []  # the guide already made them
    assert resources(doc, "aws_security_group") == []
    assert one(resources(doc, "aws_vpc_security_group_ingress_rule"))["security_group_id"] == "sg-0123456789abcdef0"
    assert one(resources(doc, "aws_efs_access_point"))["file_system_id"] == ref(doc, "aws_efs_file_system", "id", data=True)


def test_adopt_existing_with_mount_targets_and_access_point():
    doc = synth_cache(existing_file_system_id="fs-0123456789abcdef0", create_mount_targets=True,
                      existing_access_point_id="fsap-0123456789abcdef0")
    assert one(resources(doc, "aws_efs_mount_target"))["for_each"].startswith("${nonsensitive(")
    assert resources(doc, "aws_efs_access_point") == []
    assert one(data_sources(doc, "aws_efs_access_point"))["access_point_id"] == "fsap-0123456789abcdef0"
    assert one(resources(doc, "aws_security_group"))["name"] == "sabuho-paddleocr-models-efs"


def cache_of(**model_cache):
    return ModelCache(new_stack(), "cache", ModelCacheProps(**model_cache), project="sabuho", vpc_id="vpc-1",
                      subnets_by_az={"us-east-1a": "subnet-a"}, client_security_group_id="sg-tasks")


def test_facts_are_the_props_for_what_it_creates():
    cache = cache_of(uid=2000, gid=3000, throughput_mode="bursting")
    assert (cache.uid, cache.gid, cache.posix_user, cache.throughput_mode) == (2000, 3000, "2000:3000", "bursting")
    assert cache.metric_burst_credit_balance().dimensions == {"FileSystemId": cache.file_system_id}


def test_facts_of_what_it_adopts_are_read_from_it():
    from constructs_lib.framework import Token

    cache = cache_of(existing_file_system_id="fs-0123456789abcdef0", existing_security_group_id="sg-0123456789abcdef0",
                     existing_access_point_id="fsap-0123456789abcdef0", throughput_mode="elastic")
    # Terraform expressions on the data sources, not the props' defaults.
    assert all(Token.is_unresolved(v) for v in (cache.uid, cache.gid, cache.throughput_mode))
    doc = synth_stack(cache.node.scope)
    assert one(data_sources(doc, "aws_efs_access_point"))["access_point_id"] == "fsap-0123456789abcdef0"


# -- props: what EFS refuses at apply time fails when the props are built ---------------------

BAD_PROPS = {
    # https://docs.aws.amazon.com/efs/latest/ug/API_RootDirectory.html
    "access point path not absolute": (dict(access_point_path="models"), "access_point_path: 'models' is not valid"),
    "access point path is the root": (dict(access_point_path="/"), "access_point_path: '/' must be 2-100 characters"),
    "access point path five levels": (dict(access_point_path="/a/b/c/d/e"), "access_point_path: '/a/b/c/d/e' is not valid"),
    "access point path hidden dir": (dict(access_point_path="/.models"), "access_point_path: '/.models' is not valid"),
    "access point path too long": (dict(access_point_path="/" + "m" * 100), "access_point_path:"),
    "root uid": (dict(uid=0), "uid: 0 must be a POSIX id from 1 to 4294967295 (root is not allowed)"),
    "negative gid": (dict(gid=-5), "gid: -5 must be a POSIX id"),
    "kms alias instead of key arn": (dict(kms_key_arn="alias/aws/elasticfilesystem"), "kms_key_arn: 'alias/aws/"),
    "kms arn of another service": (dict(kms_key_arn="arn:aws:s3:::bucket"), "kms_key_arn:"),
    "provisioned without mibps": (dict(throughput_mode="provisioned"), "provisioned_throughput_mibps: required"),
    "provisioned over the maximum": (dict(throughput_mode="provisioned", provisioned_throughput_mibps=5000),
                                     "provisioned_throughput_mibps: required with throughput_mode 'provisioned': 1 to 3414"),
    "mibps without provisioned": (dict(provisioned_throughput_mibps=64), "provisioned_throughput_mibps: only valid"),
    "ia days not an efs value": (dict(transition_to_ia_days=45), "transition_to_ia_days: 45 must be one of"),
    "file system id shape": (dict(existing_file_system_id="efs-1"), "existing_file_system_id: 'efs-1' is not an id"),
    "adopted without nfs group": (dict(existing_file_system_id="fs-0123456789abcdef0"),
                                  "existing_security_group_id: required"),
    "access point without file system": (dict(existing_access_point_id="fsap-0123456789abcdef0"),
                                         "existing_access_point_id: only valid together"),
    # EFS enforces the access point's POSIX user on every client: a uid here would be ignored.
    "uid beside an adopted access point": (dict(existing_file_system_id="fs-0123456789abcdef0",
                                                existing_security_group_id="sg-0123456789abcdef0",
                                                existing_access_point_id="fsap-0123456789abcdef0", uid=4242),
                                           "uid: an adopted access point has its own POSIX user"),
    "name tag too long": (dict(name="m" * 257), "name.Name:"),
}


@pytest.mark.parametrize("props,message", BAD_PROPS.values(), ids=BAD_PROPS.keys())
def test_props_refuse_what_efs_refuses_in_one_line_naming_the_field(props, message):
    assert_refused(ModelCacheProps, props, message)


def test_name_derives_from_the_project_unless_set():
    stack = new_stack()
    ModelCache(stack, "a", project="teamb", vpc_id="vpc-1", subnets_by_az={}, client_security_group_id="sg-1")
    ModelCache(stack, "b", ModelCacheProps(name="shared-models"), project="teamb", vpc_id="vpc-1",
               subnets_by_az={}, client_security_group_id="sg-1")
    names = sorted(fs["tags"]["Name"] for fs in resources(synth_stack(stack), "aws_efs_file_system"))
    assert names == ["shared-models", "teamb-paddleocr-models"]
