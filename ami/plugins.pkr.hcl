# Kept in a file of its own: Debian's packer 1.6.6 (which scripts/lint-ami.sh uses to run
# `packer validate` offline, with the amazon builder built in) rejects the required_plugins
# block. A current packer reads it: `packer init ami/` installs the pinned plugin.
packer {
  # Plugins are distributed from releases.hashicorp.com since 2025; packer 1.14.1 fetches them
  # from there.
  required_version = ">= 1.14.1"
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = "= 1.3.10"
    }
  }
}
