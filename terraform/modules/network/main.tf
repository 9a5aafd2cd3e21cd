# Network: a VPC with three tiers of subnets over 2-3 AZs.
#
#   public    10.0.0.0/24  10.0.1.0/24  10.0.2.0/24   ALB, NAT gateways; route to the internet gateway
#   private   10.0.10.0/24 10.0.11.0/24 10.0.12.0/24  itemsd instances; route to NAT (if any)
#   database  10.0.20.0/24 10.0.21.0/24 10.0.22.0/24  RDS; no route out of the VPC at all
#
# The S3 gateway endpoint is always there (free). Interface endpoints for the
# services itemsd and SSM talk to are optional, so that an instance that
# downloads nothing at boot can run with enable_nat_gateway = false.
#
# Each tier has a network ACL that mirrors its security groups, so
# that a mistaken security group is not the only wall (see the end of this file).

data "aws_region" "current" {}

locals {
  az_count = length(var.azs)

  public_cidrs   = [for i in range(local.az_count) : cidrsubnet(var.vpc_cidr, 8, i)]
  private_cidrs  = [for i in range(local.az_count) : cidrsubnet(var.vpc_cidr, 8, 10 + i)]
  database_cidrs = [for i in range(local.az_count) : cidrsubnet(var.vpc_cidr, 8, 20 + i)]

  nat_count = var.enable_nat_gateway ? (var.single_nat_gateway ? 1 : local.az_count) : 0
  # One private route table per NAT gateway (or a single one without NAT).
  private_route_table_count = max(local.nat_count, 1)
}

resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(var.tags, { Name = var.name })
}

# Take over the default security group and strip every rule from it, so that
# nothing can be launched into an open group by accident.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-default-unused" })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_subnet" "public" {
  count = local.az_count

  vpc_id                  = aws_vpc.this.id
  cidr_block              = local.public_cidrs[count.index]
  availability_zone       = var.azs[count.index]
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-public-${var.azs[count.index]}", Tier = "public" })
}

resource "aws_subnet" "private" {
  count = local.az_count

  vpc_id            = aws_vpc.this.id
  cidr_block        = local.private_cidrs[count.index]
  availability_zone = var.azs[count.index]

  tags = merge(var.tags, { Name = "${var.name}-private-${var.azs[count.index]}", Tier = "private" })
}

resource "aws_subnet" "database" {
  count = local.az_count

  vpc_id            = aws_vpc.this.id
  cidr_block        = local.database_cidrs[count.index]
  availability_zone = var.azs[count.index]

  tags = merge(var.tags, { Name = "${var.name}-database-${var.azs[count.index]}", Tier = "database" })
}

resource "aws_eip" "nat" {
  count = local.nat_count

  domain = "vpc"

  tags = merge(var.tags, { Name = "${var.name}-nat-${var.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = local.nat_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = merge(var.tags, { Name = "${var.name}-${var.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = local.az_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  count = local.private_route_table_count

  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-private-${count.index}" })
}

resource "aws_route" "private_nat" {
  count = local.nat_count

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[count.index].id
}

resource "aws_route_table_association" "private" {
  count = local.az_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[min(count.index, local.private_route_table_count - 1)].id
}

# The database tier has its own route table with only the local route.
resource "aws_route_table" "database" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-database" })
}

resource "aws_route_table_association" "database" {
  count = local.az_count

  subnet_id      = aws_subnet.database[count.index].id
  route_table_id = aws_route_table.database.id
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id

  tags = merge(var.tags, { Name = "${var.name}-s3" })
}

resource "aws_vpc_endpoint" "interface" {
  for_each = var.interface_endpoints

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = var.endpoint_security_group_ids
  private_dns_enabled = true

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

# Flow logs -> CloudWatch Logs, through a role only the flow logs service can assume.
resource "aws_cloudwatch_log_group" "flow_logs" {
  #checkov:skip=CKV_AWS_338:Retention is the flow_logs_retention_days variable: short in dev to hold costs down, each environment sets its own.
  count = var.enable_flow_logs ? 1 : 0

  name              = "/vpc/${var.name}/flow-logs"
  retention_in_days = var.flow_logs_retention_days
  kms_key_id        = var.flow_logs_kms_key_arn

  tags = var.tags
}

resource "aws_iam_role" "flow_logs" {
  count = var.enable_flow_logs ? 1 : 0

  name_prefix = "${substr(var.name, 0, 20)}-flow-logs-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "flow_logs" {
  count = var.enable_flow_logs ? 1 : 0

  name = "write-flow-logs"
  role = aws_iam_role.flow_logs[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect = "Allow"
      Action = [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
      ]
      Resource = [
        aws_cloudwatch_log_group.flow_logs[0].arn,
        "${aws_cloudwatch_log_group.flow_logs[0].arn}:log-stream:*",
      ]
    }]
  })
}

resource "aws_flow_log" "this" {
  count = var.enable_flow_logs ? 1 : 0

  vpc_id                   = aws_vpc.this.id
  traffic_type             = var.flow_logs_traffic_type
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow_logs[0].arn
  iam_role_arn             = aws_iam_role.flow_logs[0].arn
  max_aggregation_interval = 60

  tags = merge(var.tags, { Name = var.name })
}

# --- network ACLs ------------------------------------------------------------
#
# One network ACL per tier, mirroring the security groups, so that a mistaken
# security group is not the only wall. NACLs are stateless: every allowed
# connection needs its return traffic allowed in the other direction, on the
# initiator's ephemeral port. The ALB and the NAT gateway use the whole range
# 1024-65535, so that is what every return rule admits. (Amazon DNS, DHCP,
# IMDS and the Time Sync Service are never filtered by NACLs.)
#
#   public    in   80, 443 from anywhere; 1024-65535 from anywhere (itemsd's
#                  answers to the ALB, the internet's answers to the NAT)
#             out  app_port to the private subnets; 443 to anywhere (the NAT
#                  forwarding the app tier's HTTPS); 1024-65535 to anywhere
#   private   in   app_port from the public subnets, then app_port denied from
#                  anywhere else; 443 from the private subnets (interface
#                  endpoints); 1024-65535 from anywhere (answers from the AWS
#                  APIs, through the NAT or the S3 gateway endpoint, whose
#                  addresses are public, from the endpoints and the database)
#             out  1024-65535 to the public subnets (answers to the ALB) and
#                  the private subnets (the endpoints' answers); db_port to the
#                  database subnets; 443 to anywhere (AWS APIs)
#   database  in   db_port from the private subnets
#             out  1024-65535 to the private subnets
#             (+ db_port and 1024-65535 within the tier with enable_db_proxy:
#              the RDS Proxy lives in the database subnets)

locals {
  anywhere       = "0.0.0.0/0"
  ephemeral_from = 1024
  ephemeral_to   = 65535
  endpoints_on   = length(var.interface_endpoints) > 0

  nacl_public_ingress = [
    { rule_no = 100, action = "allow", from_port = 80, to_port = 80, cidr_block = local.anywhere },
    { rule_no = 110, action = "allow", from_port = 443, to_port = 443, cidr_block = local.anywhere },
    { rule_no = 120, action = "allow", from_port = local.ephemeral_from, to_port = local.ephemeral_to, cidr_block = local.anywhere },
  ]

  nacl_public_egress = concat(
    [for i, cidr in local.private_cidrs : { rule_no = 100 + i, action = "allow", from_port = var.app_port, to_port = var.app_port, cidr_block = cidr }],
    [
      { rule_no = 110, action = "allow", from_port = 443, to_port = 443, cidr_block = local.anywhere },
      { rule_no = 120, action = "allow", from_port = local.ephemeral_from, to_port = local.ephemeral_to, cidr_block = local.anywhere },
    ],
  )

  # The deny at 110 matters: the return rule at 130 covers app_port too, and
  # would otherwise admit it from anywhere. It cannot cut a return packet:
  # Amazon Linux picks its own ephemeral ports from 32768-60999.
  nacl_private_ingress = concat(
    [for i, cidr in local.public_cidrs : { rule_no = 100 + i, action = "allow", from_port = var.app_port, to_port = var.app_port, cidr_block = cidr }],
    [{ rule_no = 110, action = "deny", from_port = var.app_port, to_port = var.app_port, cidr_block = local.anywhere }],
    local.endpoints_on ? [for i, cidr in local.private_cidrs : { rule_no = 120 + i, action = "allow", from_port = 443, to_port = 443, cidr_block = cidr }] : [],
    [{ rule_no = 130, action = "allow", from_port = local.ephemeral_from, to_port = local.ephemeral_to, cidr_block = local.anywhere }],
  )

  nacl_private_egress = concat(
    [for i, cidr in local.public_cidrs : { rule_no = 100 + i, action = "allow", from_port = local.ephemeral_from, to_port = local.ephemeral_to, cidr_block = cidr }],
    local.endpoints_on ? [for i, cidr in local.private_cidrs : { rule_no = 110 + i, action = "allow", from_port = local.ephemeral_from, to_port = local.ephemeral_to, cidr_block = cidr }] : [],
    [for i, cidr in local.database_cidrs : { rule_no = 120 + i, action = "allow", from_port = var.db_port, to_port = var.db_port, cidr_block = cidr }],
    [{ rule_no = 130, action = "allow", from_port = 443, to_port = 443, cidr_block = local.anywhere }],
  )

  nacl_database_ingress = concat(
    [for i, cidr in local.private_cidrs : { rule_no = 100 + i, action = "allow", from_port = var.db_port, to_port = var.db_port, cidr_block = cidr }],
    var.enable_db_proxy ? [for i, cidr in local.database_cidrs : { rule_no = 110 + i, action = "allow", from_port = var.db_port, to_port = var.db_port, cidr_block = cidr }] : [],
    var.enable_db_proxy ? [for i, cidr in local.database_cidrs : { rule_no = 120 + i, action = "allow", from_port = local.ephemeral_from, to_port = local.ephemeral_to, cidr_block = cidr }] : [],
  )

  # db_port is inside the ephemeral range, so the proxy's rule covers both its
  # connections to the instance and the answers it gets.
  nacl_database_egress = concat(
    [for i, cidr in local.private_cidrs : { rule_no = 100 + i, action = "allow", from_port = local.ephemeral_from, to_port = local.ephemeral_to, cidr_block = cidr }],
    var.enable_db_proxy ? [for i, cidr in local.database_cidrs : { rule_no = 110 + i, action = "allow", from_port = local.ephemeral_from, to_port = local.ephemeral_to, cidr_block = cidr }] : [],
  )

  network_acls = {
    public   = { ingress = local.nacl_public_ingress, egress = local.nacl_public_egress }
    private  = { ingress = local.nacl_private_ingress, egress = local.nacl_private_egress }
    database = { ingress = local.nacl_database_ingress, egress = local.nacl_database_egress }
  }

  # "<tier>-<az index>" => subnet ID; the keys are known at plan time.
  nacl_subnets = merge(
    { for i in range(local.az_count) : "public-${i}" => aws_subnet.public[i].id },
    { for i in range(local.az_count) : "private-${i}" => aws_subnet.private[i].id },
    { for i in range(local.az_count) : "database-${i}" => aws_subnet.database[i].id },
  )
}

resource "aws_network_acl" "this" {
  #checkov:skip=CKV2_AWS_1:Every subnet is associated through aws_network_acl_association.this, one per subnet (asserted in tests/network.tftest.hcl); this graph check looks only for subnet_ids on the ACL.
  #checkov:skip=CKV_AWS_231:3389 lies in the return range 1024-65535 the public and private tiers must admit from anywhere (stateless rules; the NAT gateway and the ALB use the whole range); nothing in the VPC listens on 3389 and no security group admits it.
  for_each = local.network_acls

  vpc_id = aws_vpc.this.id

  dynamic "ingress" {
    for_each = each.value.ingress
    content {
      rule_no    = ingress.value.rule_no
      action     = ingress.value.action
      protocol   = "tcp"
      from_port  = ingress.value.from_port
      to_port    = ingress.value.to_port
      cidr_block = ingress.value.cidr_block
    }
  }

  dynamic "egress" {
    for_each = each.value.egress
    content {
      rule_no    = egress.value.rule_no
      action     = egress.value.action
      protocol   = "tcp"
      from_port  = egress.value.from_port
      to_port    = egress.value.to_port
      cidr_block = egress.value.cidr_block
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-${each.key}", Tier = each.key })
}

resource "aws_network_acl_association" "this" {
  for_each = local.nacl_subnets

  network_acl_id = aws_network_acl.this[split("-", each.key)[0]].id
  subnet_id      = each.value
}

# Take over the default network ACL and leave it without rules (deny all), as
# with the default security group: a subnet created outside this module is
# closed until it is given an ACL of its own.
resource "aws_default_network_acl" "this" {
  #checkov:skip=CKV2_AWS_1:The default ACL is meant to hold no subnet: every subnet of this module has its tier's ACL; this one only catches subnets made elsewhere.
  default_network_acl_id = aws_vpc.this.default_network_acl_id

  tags = merge(var.tags, { Name = "${var.name}-default-deny" })

  lifecycle {
    # Subnets belong to the default ACL until aws_network_acl_association
    # moves them to their tier's ACL; the associations are managed there.
    ignore_changes = [subnet_ids]
  }
}
