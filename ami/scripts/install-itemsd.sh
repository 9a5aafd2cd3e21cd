#!/usr/bin/env bash
# Installs itemsd into the running image (Packer, on the build instance) or into a root
# filesystem (scripts/test-boot.sh, under chroot): the binary, the systemd unit and the env
# template, with explicit owners and modes, enables the unit and adds the operator account
# itemsd-ops. Installs no packages.
#
# Runs as root. Env:
#   ITEMSD_STAGING  directory holding itemsd, itemsd.service, itemsd-migrate.service and itemsd.env (uploaded by
#                   Packer); removed afterwards
#   ITEMSD_VERSION  optional: the version `itemsd --version` must report
set -o errexit -o nounset -o pipefail

: "${ITEMSD_STAGING:?set ITEMSD_STAGING to the directory holding itemsd, itemsd.service, itemsd-migrate.service, itemsd.env}"
ITEMSD_VERSION=${ITEMSD_VERSION:-}

die() {
    echo "install-itemsd: error: $*" >&2
    exit 1
}

[[ "$(id -u)" == 0 ]] || die "must run as root"
for file in itemsd itemsd.service itemsd-migrate.service itemsd.env; do
    [[ -f "$ITEMSD_STAGING/$file" ]] || die "$ITEMSD_STAGING/$file is missing"
done
command -v systemctl >/dev/null || die "systemctl not found: the image must boot systemd"

install -o root -g root -m 0755 "$ITEMSD_STAGING/itemsd" /usr/local/bin/itemsd
# The unit's EnvironmentFile=. Read by PID 1 as root; 0644 like the file cloud-init writes
# over it (non-secret settings only). /etc/itemsd stays root-owned: itemsd runs as a
# DynamicUser and writes nothing there.
install -o root -g root -m 0755 -d /etc/itemsd
install -o root -g root -m 0644 "$ITEMSD_STAGING/itemsd.env" /etc/itemsd/itemsd.env
install -o root -g root -m 0644 "$ITEMSD_STAGING/itemsd.service" /etc/systemd/system/itemsd.service
install -o root -g root -m 0644 "$ITEMSD_STAGING/itemsd-migrate.service" /etc/systemd/system/itemsd-migrate.service
# Works on a running system and, without a running systemd, offline in a chroot.
systemctl enable itemsd.service itemsd-migrate.service

# The operator account SSM sessions run as (terraform/modules/ssm, runAsDefaultUser) and the
# fleet's Run Command documents drop to: it reads the journal (systemd-journal) and runs
# `itemsd status` and `itemsd check`. No sudo, no password (useradd leaves it locked), no SSH key.
getent group systemd-journal >/dev/null || die "group systemd-journal is missing: the image must run systemd-journald"
if ! id -u itemsd-ops >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash --groups systemd-journal \
        --comment "itemsd operator (SSM sessions)" itemsd-ops
fi

reported=$(/usr/local/bin/itemsd --version) || die "/usr/local/bin/itemsd --version failed"
if [[ -n "$ITEMSD_VERSION" && "$reported" != "itemsd $ITEMSD_VERSION" ]]; then
    die "/usr/local/bin/itemsd --version printed '$reported', expected 'itemsd $ITEMSD_VERSION'"
fi
rm -rf "$ITEMSD_STAGING"
echo "install-itemsd: installed $reported, itemsd.service and itemsd-migrate.service enabled, operator account itemsd-ops"
