"""The VPC the tasks and the mount targets live in, and the tasks' security group."""

from __future__ import annotations

import ipaddress
from typing import Sequence

from cdktf import Fn
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_availability_zones import (
    DataAwsAvailabilityZones,
    DataAwsAvailabilityZonesFilter,
)
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_subnet import DataAwsSubnet
from cdktf_cdktf_provider_aws.data_aws_vpc import DataAwsVpc
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.nat_gateway import NatGateway
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from constructs import Construct

from constructs_lib.config import NetworkSettings
from constructs_lib.policy import grant, service_trust_policy, statement

HTTPS = 443


def subnet_cidrs(cidr: str, az_count: int) -> tuple[list[str], list[str]]:
    """Carve ``az_count`` private, then ``az_count`` public, equal subnets from ``cidr``."""
    network = ipaddress.IPv4Network(cidr)
    bits = max(2, (2 * az_count - 1).bit_length())
    blocks = [str(b) for b in network.subnets(prefixlen_diff=bits)]
    return blocks[:az_count], blocks[az_count:2 * az_count]


class Network(Construct):
    """A new VPC across ``az_count`` AZs with NAT, or an adopted VPC and its private subnets.

    Either way it creates the task security group: egress HTTPS only. NFS egress to the model
    cache is added by :class:`~constructs_lib.model_cache.ModelCache`, which owns that port.
    """

    vpc_id: str
    #: One per AZ; mount targets and tasks go here.
    private_subnet_ids: list[str]
    task_security_group: SecurityGroup

    def __init__(self, scope: Construct, id: str, *, settings: NetworkSettings, name: str,
                 availability_zones: Sequence[str] = ()) -> None:
        super().__init__(scope, id)
        if settings.vpc_id:
            self._adopt(settings)
        else:
            self._create(settings, name, availability_zones or settings.availability_zones)

        self.task_security_group = SecurityGroup(
            self, "task-sg", name=f"{name}-tasks", vpc_id=self.vpc_id,
            description="PaddleOCR ECS tasks: HTTPS out, NFS to the model cache only",
            tags={"Name": f"{name}-tasks"})
        # ECR, S3, SQS, CloudWatch and the model hosts are all HTTPS.
        VpcSecurityGroupEgressRule(
            self, "task-https-out", security_group_id=self.task_security_group.id,
            description="HTTPS to AWS APIs and model hosts", ip_protocol="tcp",
            from_port=HTTPS, to_port=HTTPS, cidr_ipv4="0.0.0.0/0")

    def _adopt(self, settings: NetworkSettings) -> None:
        vpc = DataAwsVpc(self, "vpc", id=settings.vpc_id)
        # Looking each subnet up with vpc_id fails the plan if a subnet is not in that VPC.
        subnets = [DataAwsSubnet(self, f"private-{i}", id=subnet_id, vpc_id=vpc.id)
                   for i, subnet_id in enumerate(settings.private_subnet_ids)]
        self.vpc_id = vpc.id
        self.private_subnet_ids = [s.id for s in subnets]

    def _create(self, settings: NetworkSettings, name: str, zones: Sequence[str]) -> None:
        if len(zones) < 2:
            raise ValueError("Network: a new VPC needs at least 2 availability_zones")
        # Fails the plan if a named zone is not available in this account and region.
        azs = DataAwsAvailabilityZones(self, "azs", state="available", filter=[
            DataAwsAvailabilityZonesFilter(name="zone-name", values=list(zones))])
        # Mount-target DNS names (fs-xxx.efs.<region>.amazonaws.com) need both DNS settings.
        vpc = Vpc(self, "vpc", cidr_block=settings.cidr, enable_dns_support=True,
                  enable_dns_hostnames=True, tags={"Name": name})
        DefaultSecurityGroup(self, "default-sg", vpc_id=vpc.id, tags={"Name": f"{name}-default-closed"})
        igw = InternetGateway(self, "igw", vpc_id=vpc.id, tags={"Name": name})

        private_cidrs, public_cidrs = subnet_cidrs(settings.cidr, len(zones))
        public_rt = RouteTable(self, "public-rt", vpc_id=vpc.id, tags={"Name": f"{name}-public"})
        Route(self, "public-default", route_table_id=public_rt.id,
              destination_cidr_block="0.0.0.0/0", gateway_id=igw.id)

        nats: list[NatGateway] = []
        self.private_subnet_ids = []
        for i in range(len(zones)):
            az = Fn.element(azs.names, i)
            public = Subnet(self, f"public-{i}", vpc_id=vpc.id, cidr_block=public_cidrs[i],
                            availability_zone=az, map_public_ip_on_launch=False,
                            tags={"Name": f"{name}-public-{i}", "Tier": "public"})
            RouteTableAssociation(self, f"public-{i}-rt", subnet_id=public.id, route_table_id=public_rt.id)
            if i == 0 or settings.nat_gateways == "per_az":
                eip = Eip(self, f"nat-{i}-eip", domain="vpc", tags={"Name": f"{name}-nat-{i}"})
                nats.append(NatGateway(self, f"nat-{i}", allocation_id=eip.id, subnet_id=public.id,
                                       tags={"Name": f"{name}-nat-{i}"}, depends_on=[igw]))

            private = Subnet(self, f"private-{i}", vpc_id=vpc.id, cidr_block=private_cidrs[i],
                             availability_zone=az, tags={"Name": f"{name}-private-{i}", "Tier": "private"})
            rt = RouteTable(self, f"private-{i}-rt", vpc_id=vpc.id, tags={"Name": f"{name}-private-{i}"})
            Route(self, f"private-{i}-default", route_table_id=rt.id, destination_cidr_block="0.0.0.0/0",
                  nat_gateway_id=nats[min(i, len(nats) - 1)].id)
            RouteTableAssociation(self, f"private-{i}-rta", subnet_id=private.id, route_table_id=rt.id)
            self.private_subnet_ids.append(private.id)

        self.vpc_id = vpc.id
        if settings.flow_logs:
            self._flow_logs(vpc, name, settings.flow_log_retention_days)

    def _flow_logs(self, vpc: Vpc, name: str, retention_days: int) -> None:
        account = DataAwsCallerIdentity(self, "account")
        group = CloudwatchLogGroup(self, "flow-log-group", name=f"/vpc/{name}/flow-logs",
                                   retention_in_days=retention_days)
        trust = service_trust_policy(self, "flow-log-trust", "vpc-flow-logs.amazonaws.com", account.account_id)
        role = IamRole(self, "flow-log-role", name=f"{name}-flow-logs", assume_role_policy=trust.json)
        grant(self, role, "write-flow-logs", [statement(
            "WriteFlowLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            [group.arn, f"{group.arn}:*"])])
        FlowLog(self, "flow-log", vpc_id=vpc.id, traffic_type="ALL", log_destination_type="cloud-watch-logs",
                log_destination=group.arn, iam_role_arn=role.arn, tags={"Name": name})
