"""Network: a new VPC (DNS on, 2+ AZs, NAT) or an adopted one, and the task security group."""

import pytest

from constructs_lib.network import Network, subnet_cidrs
from tests.synth import data_sources, new_stack, one, resources, settings, synth_stack


def synth_network(**network):
    s = settings(network=network)
    stack = new_stack()
    Network(stack, "network", settings=s.network, name="t", availability_zones=s.availability_zones)
    return synth_stack(stack)


@pytest.fixture(scope="module")
def default():
    return synth_network()


def test_vpc_has_dns_support_and_hostnames_for_mount_target_names(default):
    vpc = one(resources(default, "aws_vpc"))
    assert vpc["enable_dns_support"] is True and vpc["enable_dns_hostnames"] is True
    assert vpc["cidr_block"] == "10.0.0.0/16"


def test_one_public_and_one_private_subnet_per_az(default):
    subnets = resources(default, "aws_subnet")
    tiers = sorted(s["tags"]["Tier"] for s in subnets)
    assert tiers == ["private", "private", "public", "public"]
    assert all(s.get("map_public_ip_on_launch") in (None, False) for s in subnets)
    assert len({s["cidr_block"] for s in subnets}) == 4


def test_zones_are_pinned_by_name(default):
    azs = one(data_sources(default, "aws_availability_zones"))
    assert azs["filter"] == [{"name": "zone-name", "values": ["us-east-1a", "us-east-1b"]}]


def test_single_nat_by_default_and_one_per_az_on_request(default):
    assert len(resources(default, "aws_nat_gateway")) == 1
    assert len(resources(synth_network(nat_gateways="per_az", az_count=3), "aws_nat_gateway")) == 3


def test_private_subnets_route_through_nat(default):
    private_routes = [r for r in resources(default, "aws_route") if "nat_gateway_id" in r]
    assert len(private_routes) == 2


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


def test_existing_vpc_is_looked_up_not_created():
    doc = synth_network(vpc_id="vpc-0abc", private_subnet_ids=["subnet-01", "subnet-02"])
    assert resources(doc, "aws_vpc") == [] and resources(doc, "aws_subnet") == []
    assert one(data_sources(doc, "aws_vpc"))["id"] == "vpc-0abc"
    subnets = data_sources(doc, "aws_subnet")
    assert sorted(s["id"] for s in subnets) == ["subnet-01", "subnet-02"]
    assert all(s["vpc_id"].startswith("${data.aws_vpc.") for s in subnets)


def test_subnet_cidrs_do_not_overlap():
    private, public = subnet_cidrs("10.1.0.0/24", 6)
    import ipaddress
    nets = [ipaddress.IPv4Network(c) for c in private + public]
    assert len(nets) == 12
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
