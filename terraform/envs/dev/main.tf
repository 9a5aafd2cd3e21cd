# itemsd, dev: two AZs, one NAT gateway, no interface endpoints, a small
# single-AZ database that can be destroyed, one instance, no WAF by default.

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first az_count zones in name order are used (slice in locals), so a zone AWS adds later does not enter the set; set availability_zones to pin them explicitly.
  state = "available"
}

locals {
  environment = "dev"
  name        = "itemsd-${local.environment}"
  azs         = length(var.availability_zones) > 0 ? var.availability_zones : slice(data.aws_availability_zones.available.names, 0, var.az_count)
  namespace   = "Itemsd"

  # The PostgreSQL role itemsd serves as, logging in with IAM auth tokens
  # (docs/terraform.md, the database roles). Behind the RDS Proxy it is left
  # out: the proxy logs in to the database with one secret per user, and
  # provider 5.100 has no aws_db_proxy default_auth_scheme for end-to-end IAM,
  # so there itemsd logs in as the master user through the proxy.
  db_iam_user = var.enable_db_proxy ? null : module.database.app_username
}

module "network" {
  source = "../../modules/network"

  name                  = local.name
  azs                   = local.azs
  enable_nat_gateway    = true
  single_nat_gateway    = true
  interface_endpoints   = []
  enable_flow_logs      = true
  flow_logs_kms_key_arn = module.monitoring.kms_key_arn

  # The database tier's ACL passes PostgreSQL within the tier for the proxy.
  enable_db_proxy = var.enable_db_proxy
}

module "security" {
  source = "../../modules/security"

  name            = local.name
  vpc_id          = module.network.vpc_id
  enable_https    = var.certificate_arn != null
  enable_db_proxy = var.enable_db_proxy
}

module "monitoring" {
  source = "../../modules/monitoring"

  name                    = local.name
  alarm_emails            = var.alarm_emails
  log_retention_days      = 14
  metrics_namespace       = local.namespace
  alb_arn_suffix          = module.compute.alb_arn_suffix
  target_group_arn_suffix = module.compute.target_group_arn_suffix
  autoscaling_group_name  = module.compute.autoscaling_group_name
  db_instance_identifier  = module.database.db_instance_identifier
  budget_limit_usd        = length(var.alarm_emails) > 0 ? var.budget_limit_usd : 0
}

module "database" {
  source = "../../modules/database"

  name                  = local.name
  subnet_ids            = module.network.database_subnet_ids
  security_group_ids    = [module.security.db_security_group_id]
  instance_class        = "db.t4g.micro"
  multi_az              = false
  backup_retention_days = 1
  deletion_protection   = false
  skip_final_snapshot   = true
  alarm_actions         = [module.monitoring.sns_topic_arn]

  logs_kms_key_arn   = module.monitoring.kms_key_arn
  log_retention_days = 14

  max_connections_override = var.db_max_connections

  enable_proxy             = var.enable_db_proxy
  proxy_security_group_ids = var.enable_db_proxy ? [module.security.proxy_security_group_id] : []
}

# Session Manager's preferences and the fleet's Run Command documents.
module "ssm" {
  source = "../../modules/ssm"

  name                       = local.name
  logs_kms_key_arn           = module.monitoring.kms_key_arn
  log_retention_days         = 30
  manage_session_preferences = var.manage_session_preferences
  session_document_name      = var.session_document_name
}

module "iam" {
  source = "../../modules/iam"

  name                 = local.name
  secret_arns          = [module.database.connection_secret_arn, module.database.master_user_secret_arn]
  secrets_kms_key_arns = [module.database.kms_key_arn]
  log_group_arn        = module.monitoring.log_group_arn
  metrics_namespace    = local.namespace
  ssm_log_group_arn    = module.ssm.log_group_arn
  session_kms_key_arn  = module.ssm.session_kms_key_arn

  # rds-db:connect as that one user of this one instance.
  db_iam_user    = local.db_iam_user
  db_resource_id = local.db_iam_user == null ? null : module.database.resource_id
}

module "compute" {
  source = "../../modules/compute"

  name                  = local.name
  environment           = local.environment
  vpc_id                = module.network.vpc_id
  public_subnet_ids     = module.network.public_subnet_ids
  private_subnet_ids    = module.network.private_subnet_ids
  alb_security_group_id = module.security.alb_security_group_id
  app_security_group_id = module.security.app_security_group_id
  instance_profile_name = module.iam.instance_profile_name

  ami_id        = var.ami_id
  ami_version   = var.ami_version
  architecture  = var.architecture
  instance_type = var.instance_type

  db_secret_arn     = module.database.connection_secret_arn
  db_iam_user       = local.db_iam_user
  log_group_name    = module.monitoring.log_group_name
  metrics_namespace = local.namespace

  # Where itemsd connects and how many connections the group may hold.
  db_host = var.enable_db_proxy ? module.database.connect_address : null
  # An RDS Proxy's certificate chains to the Amazon roots (ACM), not to the RDS
  # CA bundle: verify it with the system bundle of Amazon Linux 2023.
  db_ssl_root_cert_path = var.enable_db_proxy ? "/etc/pki/tls/certs/ca-bundle.crt" : null
  db_max_connections    = module.database.connection_limit
  db_instance_class     = module.database.instance_class

  certificate_arn         = var.certificate_arn
  alb_deletion_protection = false

  min_size         = 1
  max_size         = 2
  desired_capacity = 1

  instance_refresh_enabled = var.instance_refresh_enabled
  rollback_alarm_names = [
    module.monitoring.target_5xx_alarm_name,
    module.monitoring.unhealthy_hosts_alarm_name,
  ]
}

# WAF in front of the ALB: off by default in dev (enable_waf).
module "waf" {
  source = "../../modules/waf"
  count  = var.enable_waf ? 1 : 0

  name               = local.name
  alb_arn            = module.compute.alb_arn
  logs_kms_key_arn   = module.monitoring.kms_key_arn
  log_retention_days = 14
  alarm_actions      = [module.monitoring.sns_topic_arn]

  rate_limit       = var.waf_rate_limit
  allowed_ip_cidrs = var.waf_allowed_ip_cidrs
}
