"""Network: a new VPC (DNS on, 2+ AZs, NAT) or an adopted one, and the task security group."""

import json
import subprocess

import pytest

from constructs_lib.network import Network, NetworkProps, subnet_cidrs
from tests.synth import assert_refused, data_sources, new_stack, one, ref, resources, settings, synth_stack


def synth_network(**network):
    stack = new_stack()
    Network(stack, "network", NetworkProps(name="t", **network), project="sabuho")
    return synth_stack(stack)


@pytest.fixture(scope="module")
def default():
    return synth_network()


def test_vpc_has_dns_support_and_hostnames_for_mount_target_names(default):
    vpc = one(resources(default, "aws_vpc"))
    assert vpc["enable_dns_support"] is True and vpc["enable_dns_hostnames"] is True
    assert vpc["cidr_block"] == "10.0.0.0/16"


def test_one_public_and_one_private_subnet_per_zone_keyed_by_zone_name(default):
    subnets = resources(default, "aws_subnet")
    assert sorted(s["tags"]["Tier"] for s in subnets) == ["private", "public"]
    zone_index = next(k for k in default["locals"] if "zone-index" in k)
    for subnet in subnets:
        # One resource per zone, keyed by the zone's name: reordering never replaces a subnet.
        assert subnet["for_each"] == "${local.%s}" % zone_index
        assert subnet["availability_zone"] == "${each.key}"
        assert subnet.get("map_public_ip_on_launch") in (None, False)
    cidrs = sorted(s["cidr_block"] for s in subnets)
    assert cidrs == ['${cidrsubnet("10.0.0.0/16", 2, 2 + each.value)}', '${cidrsubnet("10.0.0.0/16", 2, each.value)}']


def test_default_zones_are_the_first_available_standard_zones_without_wrap_around(default):
    azs = one(data_sources(default, "aws_availability_zones"))
    assert azs["state"] == "available"
    assert azs["filter"] == [{"name": "opt-in-status", "values": ["opt-in-not-required"]}]
    [check] = azs["lifecycle"]["postcondition"]
    assert check["condition"] == "${length(distinct(self.names)) >= 2}"
    assert "network.az_count is 2" in check["error_message"]
    zones = next(v for k, v in default["locals"].items() if k.startswith("network_zones"))
    assert zones.startswith("${slice(sort(data.aws_availability_zones.") and zones.endswith(".names), 0, 2)}")
    assert "element(" not in json.dumps(default)  # element() wraps around onto the first zone


def test_pinned_zones_are_used_as_given_and_must_be_available():
    doc = synth_network(availability_zones=["us-east-1c", "us-east-1d"])
    azs = one(data_sources(doc, "aws_availability_zones"))
    assert azs["filter"] == [{"name": "zone-name", "values": ["us-east-1c", "us-east-1d"]}]
    assert azs["lifecycle"]["postcondition"][0]["condition"] == "${length(self.names) == 2}"
    assert next(v for k, v in doc["locals"].items() if k.startswith("network_zones")) == ["us-east-1c", "us-east-1d"]


def test_single_nat_by_default_and_one_per_zone_on_request(default):
    nat = one(resources(default, "aws_nat_gateway"))
    assert "for_each" not in nat and "[local.network_zones_" in nat["subnet_id"]
    per_az = one(resources(synth_network(nat_gateways="per_az", az_count=3), "aws_nat_gateway"))
    assert per_az["for_each"].startswith("${local.network_zone-index") and "[each.key]" in per_az["subnet_id"]


def test_private_subnets_route_through_nat_per_zone(default):
    route = next(r for r in resources(default, "aws_route") if "nat_gateway_id" in r)
    assert route["for_each"].startswith("${local.network_zone-index")
    assert route["nat_gateway_id"] == ref(default, "aws_nat_gateway", "id")


def test_default_security_group_is_closed(default):
    sg = one(resources(default, "aws_default_security_group"))
    assert not sg.get("ingress") and not sg.get("egress")


def test_flow_logs_on_by_default(default):
    log = one(resources(default, "aws_flow_log"))
    assert log["traffic_type"] == "ALL"
    assert one(resources(default, "aws_cloudwatch_log_group"))["retention_in_days"] == 365
    assert resources(synth_network(flow_logs=False), "aws_flow_log") == []


def test_task_security_group_egress_is_https_only(default):
    sg = one(resources(default, "aws_security_group"))
    assert "ingress" not in sg and "egress" not in sg  # rules are separate resources
    egress = one(resources(default, "aws_vpc_security_group_egress_rule"))
    assert (egress["from_port"], egress["to_port"], egress["ip_protocol"]) == (443, 443, "tcp")
    assert resources(default, "aws_vpc_security_group_ingress_rule") == []


def test_existing_vpc_subnets_are_keyed_by_their_zone_which_must_differ():
    doc = synth_network(vpc_id="vpc-0123456789abcdef0", private_subnet_ids=["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"])
    by_az = next(v for k, v in doc["locals"].items() if "private-subnets-by-az" in k)
    # A for expression fails the plan ("Duplicate object key") on two subnets in one zone.
    assert by_az.startswith("${{for subnet in [data.aws_subnet.") and "subnet.availability_zone => subnet.id" in by_az
    assert resources(doc, "aws_vpc") == [] and resources(doc, "aws_subnet") == []
    assert one(data_sources(doc, "aws_vpc"))["id"] == "vpc-0123456789abcdef0"
    subnets = data_sources(doc, "aws_subnet")
    assert sorted(s["id"] for s in subnets) == ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]
    assert all(s["vpc_id"].startswith("${data.aws_vpc.") for s in subnets)


def test_subnet_cidrs_do_not_overlap():
    private, public = subnet_cidrs("10.1.0.0/24", 6)
    import ipaddress
    nets = [ipaddress.IPv4Network(c) for c in private + public]
    assert len(nets) == 12
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])


# -- a real plan against moto: where zone letters skip, subnets still get distinct zones ---------

def plan_network(tmp_path, terraform_env, endpoint, **network):
    from tests.synth import synth_app
    from tests.test_terraform import terraform

    stack = synth_app(tmp_path, settings(region="ap-northeast-1", aws_endpoint=endpoint, network=network)) / "network"
    env = {**terraform_env, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    terraform(env, stack, "init", "-input=false")
    result = subprocess.run(["terraform", "plan", "-input=false", "-no-color", "-out=plan"], cwd=stack, env=env,
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        return None, result.stdout + result.stderr
    planned = json.loads(terraform(env, stack, "show", "-json", "plan"))
    zones = {}
    for change in planned["resource_changes"]:
        if change["type"] == "aws_subnet":
            after = change["change"]["after"]
            zones.setdefault(after["tags"]["Tier"], []).append((change["index"], after["availability_zone"]))
    return zones, result.stdout


@pytest.mark.terraform
@pytest.mark.moto
@pytest.mark.slow
@pytest.mark.parametrize("az_count", [2, 3])
def test_plan_in_a_region_whose_zone_letters_skip_uses_distinct_real_zones(tmp_path, terraform_env, moto_endpoint,
                                                                           az_count):
    # ap-northeast-1 has zones a, c and d: the old literal "<region>b" did not exist, and
    # element() wrapped every subnet onto one zone.
    zones, output = plan_network(tmp_path, terraform_env, moto_endpoint, az_count=az_count)
    assert zones is not None, output
    expected = ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"][:az_count]
    for tier in ("private", "public"):
        assert sorted(zones[tier]) == [(zone, zone) for zone in expected]  # keyed by the zone it is in


@pytest.mark.terraform
@pytest.mark.moto
@pytest.mark.slow
def test_plan_with_more_zones_than_the_region_has_fails_with_a_clear_message(tmp_path, terraform_env, moto_endpoint):
    zones, output = plan_network(tmp_path, terraform_env, moto_endpoint, az_count=4)
    assert zones is None
    assert "network.az_count is 4, but this region has fewer available availability zones" in " ".join(output.split())


BAD_PROPS = {
    "one zone": (dict(az_count=1), "az_count: must be between 2 and 6"),
    "seven zones": (dict(az_count=7), "az_count: must be between 2 and 6"),
    "cidr does not parse": (dict(cidr="10.0.0/16"), "cidr: '10.0.0/16' is not a valid IPv4 CIDR"),
    "cidr host bits": (dict(cidr="10.0.0.1/16"), "cidr: '10.0.0.1/16' is not a valid IPv4 CIDR"),
    # https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html
    "cidr too large": (dict(cidr="10.0.0.0/8"), "cidr: prefix /8 must be between /16 and /24"),
    "zones of two regions": (dict(availability_zones=["us-east-1a", "eu-west-1b"]),
                             "availability_zones[1]: 'eu-west-1b' is not a zone of region 'us-east-1'"),
    "local zone": (dict(availability_zones=["us-east-1a", "us-east-1-bos-1a"]),
                   "availability_zones[1]: 'us-east-1-bos-1a' is not an availability zone name"),
    "zone twice": (dict(availability_zones=["us-east-1a", "us-east-1a"]), "availability_zones: names a zone twice"),
    "zones and count disagree": (dict(availability_zones=["us-east-1a", "us-east-1b"], az_count=3),
                                 "availability_zones: names 2 zones but az_count is 3"),
    # https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
    "retention not a logs value": (dict(flow_log_retention_days=100), "flow_log_retention_days: 100 is not a CloudWatch"),
    "vpc id shape": (dict(vpc_id="vpc-xyz", private_subnet_ids=["subnet-0123456789abcdef1"] * 2), "vpc_id: 'vpc-xyz'"),
    "one existing subnet": (dict(vpc_id="vpc-0123456789abcdef0", private_subnet_ids=["subnet-0123456789abcdef1"]),
                            "private_subnet_ids: an existing VPC needs at least 2"),
    "duplicate subnet": (dict(vpc_id="vpc-0123456789abcdef0", private_subnet_ids=["subnet-0123456789abcdef1"] * 2),
                         "private_subnet_ids[1]: 'subnet-0123456789abcdef1' is listed twice"),
    "subnets without vpc": (dict(private_subnet_ids=["subnet-0123456789abcdef1"]), "private_subnet_ids: only valid"),
}


@pytest.mark.parametrize("props,message", BAD_PROPS.values(), ids=BAD_PROPS.keys())
def test_props_refuse_what_ec2_refuses_in_one_line_naming_the_field(props, message):
    assert_refused(NetworkProps, props, message)


def test_default_props_need_no_zones_and_names_derive_from_the_project():
    stack = new_stack()
    Network(stack, "network", project="teamb")
    doc = synth_stack(stack)
    assert one(resources(doc, "aws_vpc"))["tags"] == {"Name": "teamb-paddleocr"}
    assert one(resources(doc, "aws_security_group"))["name"] == "teamb-paddleocr-tasks"
