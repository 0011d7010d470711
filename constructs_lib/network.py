"""The VPC the tasks and the mount targets live in, and the tasks' security group."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal, Optional

from constructs import Construct

from constructs_lib import aws_env, validation
from constructs_lib.framework import Postcondition, TerraformIterator, TerraformLocal, TerraformResourceLifecycle, aws
from constructs_lib.naming import Names
from constructs_lib.policy import grant, service_trust_policy, statement
from constructs_lib.validation import Props, check

CloudwatchLogGroup = aws.cloudwatch_log_group.CloudwatchLogGroup
DataAwsAvailabilityZones = aws.data_aws_availability_zones.DataAwsAvailabilityZones
DataAwsAvailabilityZonesFilter = aws.data_aws_availability_zones.DataAwsAvailabilityZonesFilter
DataAwsSubnet = aws.data_aws_subnet.DataAwsSubnet
DataAwsVpc = aws.data_aws_vpc.DataAwsVpc
DefaultSecurityGroup = aws.default_security_group.DefaultSecurityGroup
Eip = aws.eip.Eip
FlowLog = aws.flow_log.FlowLog
IamRole = aws.iam_role.IamRole
InternetGateway = aws.internet_gateway.InternetGateway
NatGateway = aws.nat_gateway.NatGateway
Route = aws.route.Route
RouteTable = aws.route_table.RouteTable
RouteTableAssociation = aws.route_table_association.RouteTableAssociation
SecurityGroup = aws.security_group.SecurityGroup
Subnet = aws.subnet.Subnet
Vpc = aws.vpc.Vpc
VpcSecurityGroupEgressRule = aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule

HTTPS = 443


def subnet_bits(az_count: int) -> int:
    """Prefix bits added to the VPC range so that 2 x ``az_count`` equal subnets fit."""
    return max(2, (2 * az_count - 1).bit_length())


def subnet_cidrs(cidr: str, az_count: int) -> tuple[list[str], list[str]]:
    """Carve ``az_count`` private, then ``az_count`` public, equal subnets from ``cidr``: what
    ``cidrsubnet(cidr, subnet_bits, i)`` and ``(..., az_count + i)`` give zone number i."""
    blocks = [str(b) for b in ipaddress.IPv4Network(cidr).subnets(prefixlen_diff=subnet_bits(az_count))]
    return blocks[:az_count], blocks[az_count:2 * az_count]


@dataclass(frozen=True)
class NetworkProps(Props):
    """Create a VPC (the default) or adopt one by id.

    Attributes:
        name: Name tag prefix of the VPC and its parts. Default ``<project>-paddleocr``.
        vpc_id: Adopt this VPC instead of creating one; then ``private_subnet_ids`` is required.
        private_subnet_ids: Adopted VPC: its private subnets for tasks and mount targets, at least
            2, in different zones (EFS allows one mount target per zone).
        cidr: New VPC: its IPv4 range, /16 to /24. Default ``10.0.0.0/16``. Subnets are carved
            from it: ``az_count`` private ones, then ``az_count`` public ones.
        az_count: New VPC: how many zones, 2 to 6, each with a public and a private subnet.
            Default 2.
        availability_zones: New VPC: the zones by name, pinned so that a zone AWS adds or impairs
            never moves a subnet. Default: the region's first ``az_count`` available standard
            zones, sorted by name, looked up at plan time (the network stack outputs them: pin
            those for production).
        nat_gateways: ``single`` (default, cheaper) or ``per_az`` (survives a zone outage).
        flow_logs: VPC flow logs to CloudWatch Logs. Default on.
        flow_log_retention_days: Retention of the flow-log group, a CloudWatch Logs value.
            Default 365.
    """

    name: Optional[str] = None
    vpc_id: Optional[str] = None
    private_subnet_ids: list[str] = field(default_factory=list)
    cidr: str = "10.0.0.0/16"
    az_count: int = 2
    availability_zones: list[str] = field(default_factory=list)
    nat_gateways: Literal["single", "per_az"] = "single"
    flow_logs: bool = True
    flow_log_retention_days: int = 365

    def validate(self) -> None:
        if self.vpc_id is not None:
            validation.resource_id("vpc_id", self.vpc_id, "vpc")
            check(len(self.private_subnet_ids) >= 2, "private_subnet_ids",
                  f"an existing VPC needs at least 2 private subnets in different zones, got "
                  f"{len(self.private_subnet_ids)}")
            for i, subnet in enumerate(self.private_subnet_ids):
                validation.resource_id(f"private_subnet_ids[{i}]", subnet, "subnet")
            validation.distinct("private_subnet_ids", self.private_subnet_ids)
            return
        check(not self.private_subnet_ids, "private_subnet_ids", "only valid together with vpc_id")
        validation.cidr("cidr", self.cidr, (16, 24))
        check(2 <= self.az_count <= 6, "az_count", f"must be between 2 and 6 (EFS and ECS need 2 zones), "
                                                   f"got {self.az_count}")
        validation.zones("availability_zones", self.availability_zones)
        check(not self.availability_zones or len(self.availability_zones) == self.az_count, "availability_zones",
              f"names {len(self.availability_zones)} zones but az_count is {self.az_count}")
        check(self.nat_gateways in ("single", "per_az"), "nat_gateways", "must be 'single' or 'per_az'")
        validation.log_retention("flow_log_retention_days", self.flow_log_retention_days)


class Network(Construct):
    """A new VPC across ``az_count`` AZs with NAT, or an adopted VPC and its private subnets.

    Either way it creates the task security group: egress HTTPS only. NFS egress to the model
    cache is added by :class:`~constructs_lib.model_cache.ModelCache`, which owns that port.
    """

    vpc_id: str
    #: One per AZ, in zone order; tasks go here.
    private_subnet_ids: list[str]
    #: Zone name -> private subnet id (a map token); mount targets are keyed by it.
    private_subnets_by_az: object
    task_security_group: SecurityGroup

    def __init__(self, scope: Construct, id: str, props: Optional[NetworkProps] = None, *, project: str) -> None:
        """``project`` derives the names. Attributes: ``vpc_id``, ``private_subnet_ids``,
        ``private_subnets_by_az`` (zone -> subnet), ``task_security_group``, ``props``."""
        super().__init__(scope, id)
        props = props or NetworkProps()
        self.props = props
        name = props.name or Names(project).prefix
        if props.vpc_id:
            self._adopt(props)
        else:
            self._create(props, name)

        self.task_security_group = SecurityGroup(
            self, "task-sg", name=f"{name}-tasks", vpc_id=self.vpc_id,
            description="PaddleOCR ECS tasks: HTTPS out, NFS to the model cache only",
            tags={"Name": f"{name}-tasks"})
        # ECR, S3, SQS, CloudWatch and the model hosts are all HTTPS.
        VpcSecurityGroupEgressRule(
            self, "task-https-out", security_group_id=self.task_security_group.id,
            description="HTTPS to AWS APIs and model hosts", ip_protocol="tcp",
            from_port=HTTPS, to_port=HTTPS, cidr_ipv4="0.0.0.0/0")

    def _adopt(self, props: NetworkProps) -> None:
        vpc = DataAwsVpc(self, "vpc", id=props.vpc_id)
        # Looking each subnet up with vpc_id fails the plan if a subnet is not in that VPC.
        subnets = [DataAwsSubnet(self, f"private-{i}", id=subnet_id, vpc_id=vpc.id)
                   for i, subnet_id in enumerate(props.private_subnet_ids)]
        self.vpc_id = vpc.id
        self.private_subnet_ids = [s.id for s in subnets]
        # EFS allows one mount target per zone; two subnets in one zone fail the plan here with
        # "Duplicate object key".
        listed = ", ".join(s.fqn for s in subnets)
        self.private_subnets_by_az = TerraformLocal(
            self, "private-subnets-by-az", f"${{{{for subnet in [{listed}] : subnet.availability_zone => subnet.id}}}}"
        ).as_any_map

    def _create(self, props: NetworkProps, name: str) -> None:
        zones = props.availability_zones
        count = len(zones) or props.az_count
        if zones:
            # Pinned by name: a zone AWS adds or impairs never moves a subnet. The lookup fails
            # the plan if a named zone is not available to this account.
            DataAwsAvailabilityZones(
                self, "azs", state="available",
                filter=[DataAwsAvailabilityZonesFilter(name="zone-name", values=list(zones))],
                lifecycle=TerraformResourceLifecycle(postcondition=[Postcondition(
                    condition=f"${{length(self.names) == {count}}}",
                    error_message="network.availability_zones names a zone that is not available in this "
                                  "region and account.")]))
            zone_list: object = list(zones)
        else:
            # The region's first `count` standard zones, by name. Zone letters differ per region
            # (ap-northeast-1 has a, c, d) and element() would wrap around onto one zone, so:
            # opt-in-not-required leaves out Local and Wavelength Zones, slice() never wraps, and
            # the postcondition fails the plan with a clear message when there are too few.
            azs = DataAwsAvailabilityZones(
                self, "azs", state="available",
                filter=[DataAwsAvailabilityZonesFilter(name="opt-in-status", values=["opt-in-not-required"])],
                lifecycle=TerraformResourceLifecycle(postcondition=[Postcondition(
                    condition=f"${{length(distinct(self.names)) >= {count}}}",
                    error_message=f"network.az_count is {count}, but this region has fewer available "
                                  "availability zones; lower it or pin network.availability_zones.")]))
            zone_list = f"${{slice(sort({azs.fqn}.names), 0, {count})}}"
        self.zones = TerraformLocal(self, "zones", zone_list)
        # zone name -> its position, which picks its subnets' CIDRs (subnet_cidrs' carving).
        self._zone_index = TerraformLocal(self, "zone-index", f"${{{{for i, az in {self.zones.fqn} : az => i}}}}")
        bits = subnet_bits(count)

        # Mount-target DNS names (fs-xxx.efs.<region>.amazonaws.com) need both DNS props.
        vpc = Vpc(self, "vpc", cidr_block=props.cidr, enable_dns_support=True,
                  enable_dns_hostnames=True, tags={"Name": name})
        DefaultSecurityGroup(self, "default-sg", vpc_id=vpc.id, tags={"Name": f"{name}-default-closed"})
        igw = InternetGateway(self, "igw", vpc_id=vpc.id, tags={"Name": name})
        public_rt = RouteTable(self, "public-rt", vpc_id=vpc.id, tags={"Name": f"{name}-public"})
        Route(self, "public-default", route_table_id=public_rt.id,
              destination_cidr_block="0.0.0.0/0", gateway_id=igw.id)

        # Every per-zone resource is keyed by zone name, so reordering or adding a zone never
        # replaces another zone's subnet, NAT gateway or mount target.
        each_zone = TerraformIterator.from_map(self._zone_index.as_any_map)
        public = Subnet(self, "public", for_each=each_zone, vpc_id=vpc.id, availability_zone="${each.key}",
                        cidr_block=f'${{cidrsubnet("{props.cidr}", {bits}, {count} + each.value)}}',
                        map_public_ip_on_launch=False, tags={"Name": f"{name}-public-${{each.key}}", "Tier": "public"})
        RouteTableAssociation(self, "public-rta", for_each=each_zone, subnet_id=f"${{{public.fqn}[each.key].id}}",
                              route_table_id=public_rt.id)
        private = Subnet(self, "private", for_each=each_zone, vpc_id=vpc.id, availability_zone="${each.key}",
                         cidr_block=f'${{cidrsubnet("{props.cidr}", {bits}, each.value)}}',
                         tags={"Name": f"{name}-private-${{each.key}}", "Tier": "private"})

        if props.nat_gateways == "per_az":
            eip = Eip(self, "nat-eip", for_each=each_zone, domain="vpc", tags={"Name": f"{name}-nat-${{each.key}}"})
            nat = NatGateway(self, "nat", for_each=each_zone, allocation_id=f"${{{eip.fqn}[each.key].id}}",
                             subnet_id=f"${{{public.fqn}[each.key].id}}", tags={"Name": f"{name}-nat-${{each.key}}"},
                             depends_on=[igw])
            nat_id = f"${{{nat.fqn}[each.key].id}}"
        else:
            first = f"{self.zones.fqn}[0]"
            eip = Eip(self, "nat-eip", domain="vpc", tags={"Name": f"{name}-nat"})
            nat = NatGateway(self, "nat", allocation_id=eip.id, subnet_id=f"${{{public.fqn}[{first}].id}}",
                             tags={"Name": f"{name}-nat"}, depends_on=[igw])
            nat_id = nat.id
        rt = RouteTable(self, "private-rt", for_each=each_zone, vpc_id=vpc.id,
                        tags={"Name": f"{name}-private-${{each.key}}"})
        Route(self, "private-default", for_each=each_zone, route_table_id=f"${{{rt.fqn}[each.key].id}}",
              destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat_id)
        RouteTableAssociation(self, "private-rta", for_each=each_zone, subnet_id=f"${{{private.fqn}[each.key].id}}",
                              route_table_id=f"${{{rt.fqn}[each.key].id}}")

        self.vpc_id = vpc.id
        self.private_subnets_by_az = TerraformLocal(
            self, "private-subnets-by-az", f"${{{{for az, subnet in {private.fqn} : az => subnet.id}}}}").as_any_map
        self.private_subnet_ids = TerraformLocal(
            self, "private-subnet-ids", f"${{[for az in {self.zones.fqn} : {private.fqn}[az].id]}}").as_list
        if props.flow_logs:
            self._flow_logs(vpc, name, props.flow_log_retention_days)

    def _flow_logs(self, vpc: Vpc, name: str, retention_days: int) -> None:
        group = CloudwatchLogGroup(self, "flow-log-group", name=f"/vpc/{name}/flow-logs",
                                   retention_in_days=retention_days)
        trust = service_trust_policy(self, "flow-log-trust", "vpc-flow-logs.amazonaws.com",
                                       aws_env.account_id(self))
        role = IamRole(self, "flow-log-role", name=f"{name}-flow-logs", assume_role_policy=trust.json)
        grant(role, "write-flow-logs", [statement(
            "WriteFlowLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            [group.arn, f"{group.arn}:*"])])
        FlowLog(self, "flow-log", vpc_id=vpc.id, traffic_type="ALL", log_destination_type="cloud-watch-logs",
                log_destination=group.arn, iam_role_arn=role.arn, tags={"Name": name})
