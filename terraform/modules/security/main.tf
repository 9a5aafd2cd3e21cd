# Security groups for the chain  internet -> ALB -> itemsd -> PostgreSQL.
#
# Tiers only reference each other's groups: no CIDR rule between tiers, and
# only the ALB admits traffic from outside the VPC. Egress is what each tier
# needs and no more:
#   ALB       -> app:app_port
#   app       -> db:db_port, HTTPS to the AWS APIs (NAT and/or interface endpoints)
#   db        -> nothing
#   endpoints <- app:443
#   proxy     <- app:db_port, -> db:db_port (only with enable_db_proxy)
# Rules are separate resources (aws_vpc_security_group_*_rule) so that each has
# a description and groups can refer to one another without cycles.

resource "aws_security_group" "alb" {
  #checkov:skip=CKV2_AWS_5:Attached outside this module: the compute module attaches it to the ALB, through this module's outputs.
  name_prefix = "${var.name}-alb-"
  description = "itemsd ALB: HTTP/HTTPS from the allowed CIDRs, to the app tier only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "app" {
  #checkov:skip=CKV2_AWS_5:Attached outside this module: the compute module attaches it to the launch template, through this module's outputs.
  name_prefix = "${var.name}-app-"
  description = "itemsd instances: app port from the ALB only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-app" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "db" {
  #checkov:skip=CKV2_AWS_5:Attached outside this module: the database module attaches it to the RDS instance, through this module's outputs.
  name_prefix = "${var.name}-db-"
  description = "itemsd PostgreSQL: from the app tier only, no egress"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-db" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "proxy" {
  #checkov:skip=CKV2_AWS_5:Attached outside this module: the database module attaches it to the RDS Proxy, through this module's outputs.
  count = var.enable_db_proxy ? 1 : 0

  name_prefix = "${var.name}-proxy-"
  description = "itemsd RDS Proxy: PostgreSQL from the app tier, to the database only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-proxy" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "endpoints" {
  #checkov:skip=CKV2_AWS_5:Attached outside this module: the network module attaches it to the interface endpoints (prod), through this module's outputs.
  name_prefix = "${var.name}-vpce-"
  description = "Interface VPC endpoints: HTTPS from the app tier only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-vpce" })

  lifecycle {
    create_before_destroy = true
  }
}

# --- ALB -----------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  #checkov:skip=CKV_AWS_260:The ALB is the public entry point; port 80 redirects to HTTPS when a certificate is configured and serves HTTP in dev without one.
  for_each = toset(var.alb_ingress_cidr_blocks)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP from clients (forwarded, or redirected to HTTPS when a certificate is set)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = var.enable_https ? toset(var.alb_ingress_cidr_blocks) : toset([])

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from clients"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "alb_to_app" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Requests and health checks to itemsd"
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
  referenced_security_group_id = aws_security_group.app.id

  tags = var.tags
}

# --- app -----------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "app_from_alb" {
  security_group_id            = aws_security_group.app.id
  description                  = "Requests and health checks from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
  referenced_security_group_id = aws_security_group.alb.id

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "app_to_db" {
  security_group_id            = aws_security_group.app.id
  description                  = "PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = var.db_port
  to_port                      = var.db_port
  referenced_security_group_id = aws_security_group.db.id

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "app_to_endpoints" {
  security_group_id            = aws_security_group.app.id
  description                  = "AWS APIs through the interface endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints.id

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "app_to_s3" {
  count = var.enable_s3_egress ? 1 : 0

  security_group_id = aws_security_group.app.id
  description       = "S3 through the gateway endpoint (SSM agent)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.s3_prefix_list_id

  tags = var.tags
}

# AWS API endpoints have no fixed addresses, so HTTPS through NAT has to be
# 0.0.0.0/0 on 443 (egress only; nothing can connect in through it).
resource "aws_vpc_security_group_egress_rule" "app_https_internet" {
  count = var.app_https_egress_to_internet ? 1 : 0

  security_group_id = aws_security_group.app.id
  description       = "AWS APIs (Secrets Manager, CloudWatch, SSM) over HTTPS through NAT"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"

  tags = var.tags
}

# --- database ------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "db_from_app" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from itemsd"
  ip_protocol                  = "tcp"
  from_port                    = var.db_port
  to_port                      = var.db_port
  referenced_security_group_id = aws_security_group.app.id

  tags = var.tags
}

# --- RDS Proxy (enable_db_proxy) ------------------------------------------

resource "aws_vpc_security_group_egress_rule" "app_to_proxy" {
  count = var.enable_db_proxy ? 1 : 0

  security_group_id            = aws_security_group.app.id
  description                  = "PostgreSQL through the RDS Proxy"
  ip_protocol                  = "tcp"
  from_port                    = var.db_port
  to_port                      = var.db_port
  referenced_security_group_id = aws_security_group.proxy[0].id

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "proxy_from_app" {
  count = var.enable_db_proxy ? 1 : 0

  security_group_id            = aws_security_group.proxy[0].id
  description                  = "PostgreSQL from itemsd"
  ip_protocol                  = "tcp"
  from_port                    = var.db_port
  to_port                      = var.db_port
  referenced_security_group_id = aws_security_group.app.id

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "proxy_to_db" {
  count = var.enable_db_proxy ? 1 : 0

  security_group_id            = aws_security_group.proxy[0].id
  description                  = "PostgreSQL to the database"
  ip_protocol                  = "tcp"
  from_port                    = var.db_port
  to_port                      = var.db_port
  referenced_security_group_id = aws_security_group.db.id

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "db_from_proxy" {
  count = var.enable_db_proxy ? 1 : 0

  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from the RDS Proxy"
  ip_protocol                  = "tcp"
  from_port                    = var.db_port
  to_port                      = var.db_port
  referenced_security_group_id = aws_security_group.proxy[0].id

  tags = var.tags
}

# --- interface endpoints -------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_app" {
  security_group_id            = aws_security_group.endpoints.id
  description                  = "HTTPS from itemsd"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.app.id

  tags = var.tags
}
