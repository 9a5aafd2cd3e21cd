# The itemsd AMI: Amazon Linux 2023 (latest, from Amazon) plus the static itemsd binary, its
# systemd unit (enabled), its env template and the RDS CA bundle it verifies PostgreSQL against;
# nothing else is installed (the SSM agent ships with AL2023). One source per architecture;
# build from the repository root after packaging/build-release.sh, e.g.
#   packer build -only=amazon-ebs.x86_64 -var version=0.1.0 -var git_commit=$(git rev-parse HEAD) \
#     -var 'ssh_source_cidrs=["203.0.113.7/32"]' ami/
# See docs/shipping.md. The Terraform (modules/compute) finds the AMI by its tags:
# Application=itemsd, Architecture and, when pinned, Version.

variable "version" {
  type        = string
  description = "itemsd version baked in: dist/<target>/itemsd.version.json .version"
}

variable "git_commit" {
  type        = string
  description = "Commit the binary was built from: dist/<target>/itemsd.version.json .git_commit"
}

variable "region" {
  type    = string
  default = "eu-north-1"
}

variable "dist_dir" {
  type        = string
  default     = "dist"
  description = "packaging/build-release.sh's output, relative to the working directory (the repository root)"
}

variable "subnet_id" {
  type        = string
  default     = ""
  description = "Subnet for the build instance; empty: the default VPC. Needs a route to reach it over SSH."
}

variable "ssh_source_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to SSH to the build instance's temporary security group (the operator's or CI runner's address)"
}

variable "kms_key_id" {
  type        = string
  default     = ""
  description = "KMS key for the AMI's snapshot; empty: the account's default EBS key (aws/ebs)"
}

variable "root_volume_size_gb" {
  type    = number
  default = 8
}

# The RDS CA bundle (ami/scripts/install-rds-ca.sh): itemsd connects with DB_SSLMODE=verify-full
# and DB_SSLROOTCERT=/usr/local/share/itemsd/rds-global-bundle.pem. The validations use no
# regex(): Debian's packer 1.6.6, which lints this template offline, lacks it there.
variable "rds_ca_bundle_url" {
  type        = string
  default     = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
  description = "Where the build instance fetches the RDS global CA bundle; https only"
  validation {
    condition     = substr(var.rds_ca_bundle_url, 0, 8) == "https://" && length(var.rds_ca_bundle_url) > 8
    error_message = "The rds_ca_bundle_url must be an https:// URL."
  }
}

variable "rds_ca_bundle_sha256" {
  type        = string
  default     = ""
  description = "Pin: the sha256 the fetched bundle must have (sha256sum's 64 lowercase hex digits), else the build fails; empty: not pinned (the measured sha256 is recorded either way)"
  validation {
    condition     = var.rds_ca_bundle_sha256 == "" || (length(var.rds_ca_bundle_sha256) == 64 && trim(var.rds_ca_bundle_sha256, "0123456789abcdef") == "")
    error_message = "The rds_ca_bundle_sha256 must be empty or 64 lowercase hex digits."
  }
}

locals {
  # yyyymmddhhmmss: AMI names must be unique.
  timestamp = regex_replace(timestamp(), "[- TZ:]", "")

  common_tags = {
    Application = "itemsd"
    Version     = var.version
    GitCommit   = var.git_commit
  }
}

source "amazon-ebs" "x86_64" {
  region        = var.region
  instance_type = "t3.small"
  subnet_id     = var.subnet_id

  source_ami_filter {
    filters = {
      # The standard AL2023 image (not "minimal", which lacks the SSM agent).
      name                = "al2023-ami-2023.*-kernel-6.1-x86_64"
      architecture        = "x86_64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  ssh_username                          = "ec2-user"
  temporary_security_group_source_cidrs = var.ssh_source_cidrs

  # IMDSv2 only, on the build instance too; one hop, so containers cannot reach IMDS.
  # (metadata_options and imds_support are newer than Debian's packer 1.6.6: scripts/lint-ami.sh
  # checks them by pattern and strips them before `packer validate`.)
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  # Registers the AMI as IMDSv2-only, so instances launched from it require tokens by default
  # (the Terraform launch template also sets http_tokens = "required").
  imds_support = "v2.0"

  # Encrypted root volume on the build instance, and an encrypted snapshot behind the AMI.
  # gp3 at its free baseline (3000 IOPS, 125 MB/s), stated because 1.6.6 requires it.
  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = var.root_volume_size_gb
    volume_type           = "gp3"
    iops                  = 3000
    throughput            = 125
    encrypted             = true
    delete_on_termination = true
  }
  encrypt_boot = true
  kms_key_id   = var.kms_key_id

  ami_name        = "itemsd-${var.version}-x86_64-${local.timestamp}"
  ami_description = "itemsd ${var.version} (${var.git_commit}) on Amazon Linux 2023, x86_64"
  tags = merge(local.common_tags, {
    Name         = "itemsd-${var.version}-x86_64"
    Architecture = "x86_64"
  })
  snapshot_tags = merge(local.common_tags, {
    Name         = "itemsd-${var.version}-x86_64"
    Architecture = "x86_64"
  })
  run_tags = {
    Name        = "packer-itemsd-${var.version}-x86_64"
    Application = "itemsd"
  }
}

source "amazon-ebs" "arm64" {
  region        = var.region
  instance_type = "t4g.small"
  subnet_id     = var.subnet_id

  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-kernel-6.1-arm64"
      architecture        = "arm64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  ssh_username                          = "ec2-user"
  temporary_security_group_source_cidrs = var.ssh_source_cidrs

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  # Registers the AMI as IMDSv2-only, so instances launched from it require tokens by default
  # (the Terraform launch template also sets http_tokens = "required").
  imds_support = "v2.0"

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = var.root_volume_size_gb
    volume_type           = "gp3"
    iops                  = 3000
    throughput            = 125
    encrypted             = true
    delete_on_termination = true
  }
  encrypt_boot = true
  kms_key_id   = var.kms_key_id

  ami_name        = "itemsd-${var.version}-arm64-${local.timestamp}"
  ami_description = "itemsd ${var.version} (${var.git_commit}) on Amazon Linux 2023, arm64"
  tags = merge(local.common_tags, {
    Name         = "itemsd-${var.version}-arm64"
    Architecture = "arm64"
  })
  snapshot_tags = merge(local.common_tags, {
    Name         = "itemsd-${var.version}-arm64"
    Architecture = "arm64"
  })
  run_tags = {
    Name        = "packer-itemsd-${var.version}-arm64"
    Application = "itemsd"
  }
}

build {
  sources = ["source.amazon-ebs.x86_64", "source.amazon-ebs.arm64"]

  # Staged as scripts/test-boot.sh stages them; install-itemsd.sh installs and removes them.
  provisioner "shell" {
    inline = ["mkdir -p /tmp/itemsd-staging"]
  }

  provisioner "file" {
    only        = ["amazon-ebs.x86_64"]
    source      = "${var.dist_dir}/x86_64-unknown-linux-musl/itemsd"
    destination = "/tmp/itemsd-staging/itemsd"
  }

  provisioner "file" {
    only        = ["amazon-ebs.arm64"]
    source      = "${var.dist_dir}/aarch64-unknown-linux-musl/itemsd"
    destination = "/tmp/itemsd-staging/itemsd"
  }

  provisioner "file" {
    source      = "systemd/itemsd.service"
    destination = "/tmp/itemsd-staging/itemsd.service"
  }

  provisioner "file" {
    source      = "systemd/itemsd-migrate.service"
    destination = "/tmp/itemsd-staging/itemsd-migrate.service"
  }

  provisioner "file" {
    source      = "systemd/itemsd.env"
    destination = "/tmp/itemsd-staging/itemsd.env"
  }

  # The same three scripts scripts/test-boot.sh runs in its Debian root filesystem.
  provisioner "shell" {
    environment_vars = ["ITEMSD_STAGING=/tmp/itemsd-staging", "ITEMSD_VERSION=${var.version}"]
    execute_command  = "sudo env {{ .Vars }} bash '{{ .Path }}'"
    script           = "ami/scripts/install-itemsd.sh"
  }

  # Fetched from AWS at build time (not at boot), checked (PEM, every certificate parses, the pin
  # when set) and installed with its sha256 beside it: /usr/local/share/itemsd/.
  provisioner "shell" {
    environment_vars = ["RDS_CA_BUNDLE_URL=${var.rds_ca_bundle_url}", "RDS_CA_BUNDLE_SHA256=${var.rds_ca_bundle_sha256}"]
    execute_command  = "sudo env {{ .Vars }} bash '{{ .Path }}'"
    script           = "ami/scripts/install-rds-ca.sh"
  }

  # The sha256 install-rds-ca.sh measured on this instance, back to the build host, where
  # record-rds-ca-sha256.sh (below) writes it into this build's manifest entry.
  provisioner "file" {
    direction   = "download"
    source      = "/usr/local/share/itemsd/rds-global-bundle.pem.sha256"
    destination = "${var.dist_dir}/rds-ca/${source.name}.sha256"
  }

  provisioner "shell" {
    execute_command = "sudo env {{ .Vars }} bash '{{ .Path }}'"
    script          = "ami/scripts/cleanup-image.sh"
  }

  # Fails the build (no AMI) if cleanup left anything, the unit is not enabled or the binary
  # does not run.
  provisioner "shell" {
    environment_vars = ["ITEMSD_VERSION=${var.version}"]
    execute_command  = "sudo env {{ .Vars }} bash '{{ .Path }}'"
    script           = "ami/scripts/validate-image.sh"
  }

  # One entry per architecture built: "artifact_id" is "<region>:<ami-id>". A chain, so that the
  # checksum is recorded in the entry the manifest post-processor has just written.
  post-processors {
    post-processor "manifest" {
      output     = "${var.dist_dir}/packer-manifest.json"
      strip_path = true
      custom_data = {
        version                     = var.version
        git_commit                  = var.git_commit
        rds_ca_bundle_url           = var.rds_ca_bundle_url
        rds_ca_bundle_sha256_pinned = var.rds_ca_bundle_sha256
      }
    }

    # custom_data.rds_ca_bundle_sha256: the bundle's sha256 as MEASURED on the build instance
    # (the file downloaded above), not as expected. custom_data above is evaluated when the
    # template is read, before any instance exists, so it can only carry the optional pin; a
    # platform team auditing an AMI wants the hash of the bytes actually baked into it, for
    # pinned and unpinned builds alike (and can compare it with
    # /usr/local/share/itemsd/rds-global-bundle.pem.sha256 on any instance). The pin is the
    # control that fails the build; this is the record. Needs jq on the build host.
    post-processor "shell-local" {
      environment_vars = ["MANIFEST=${var.dist_dir}/packer-manifest.json", "SHA256_FILE=${var.dist_dir}/rds-ca/${source.name}.sha256"]
      execute_command  = ["/bin/sh", "-c", "{{.Vars}} bash {{.Script}}"]
      script           = "ami/scripts/record-rds-ca-sha256.sh"
    }
  }
}
