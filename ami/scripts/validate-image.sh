#!/usr/bin/env bash
# Fails the image build unless the image is ready to snapshot: cleanup left nothing behind,
# itemsd is installed with the expected modes, its unit is enabled, the binary runs, the operator
# account itemsd-ops reads the journal and cannot sudo, and the RDS CA bundle is installed and
# still matches the sha256 recorded beside it.
# Runs as root after cleanup-image.sh, on the Packer build instance or in the boot test's
# chroot. Env: ITEMSD_VERSION (optional): the version `itemsd --version` must report.
set -o errexit -o nounset -o pipefail

ITEMSD_VERSION=${ITEMSD_VERSION:-}
failures=0
fail() {
    echo "validate-image: FAIL: $*" >&2
    failures=$((failures + 1))
}

# --- cleanup left nothing ------------------------------------------------------------------
if [[ -s /etc/machine-id ]]; then
    fail "/etc/machine-id is not empty"
fi
if compgen -G '/etc/ssh/ssh_host_*' >/dev/null; then
    fail "SSH host keys remain: $(echo /etc/ssh/ssh_host_*)"
fi
if compgen -G '/home/*/.ssh/authorized_keys' >/dev/null || [[ -e /root/.ssh/authorized_keys ]]; then
    fail "authorized_keys remain"
fi
if [[ -e /var/lib/cloud/instance ]] || compgen -G '/var/lib/cloud/instances/*' >/dev/null; then
    fail "cloud-init instance state remains under /var/lib/cloud"
fi
if compgen -G '/var/log/cloud-init*.log' >/dev/null; then
    fail "cloud-init logs remain"
fi
journal_files=$(find /var/log/journal -type f -name '*.journal*' -print -quit 2>/dev/null)
if [[ -n "$journal_files" ]]; then
    fail "journal files remain under /var/log/journal: $journal_files"
fi

# --- itemsd is installed and enabled ---------------------------------------------------------
check_mode() {
    local path=$1 expected=$2 actual
    actual=$(stat -c '%a %U:%G' "$path" 2>/dev/null) || {
        fail "$path is missing"
        return 0
    }
    [[ "$actual" == "$expected" ]] || fail "$path is $actual, expected $expected"
}
check_mode /usr/local/bin/itemsd "755 root:root"
check_mode /etc/systemd/system/itemsd.service "644 root:root"
check_mode /etc/systemd/system/itemsd-migrate.service "644 root:root"
check_mode /etc/itemsd "755 root:root"
check_mode /etc/itemsd/itemsd.env "644 root:root"
# The RDS CA bundle (install-rds-ca.sh), itemsd's DB_SSLROOTCERT: world-readable, root-owned.
check_mode /usr/local/share/itemsd "755 root:root"
check_mode /usr/local/share/itemsd/rds-global-bundle.pem "644 root:root"
check_mode /usr/local/share/itemsd/rds-global-bundle.pem.sha256 "644 root:root"

enabled=$(systemctl is-enabled itemsd.service 2>&1) || true
[[ "$enabled" == enabled ]] || fail "itemsd.service is not enabled (systemctl is-enabled: $enabled)"
enabled=$(systemctl is-enabled itemsd-migrate.service 2>&1) || true
[[ "$enabled" == enabled ]] || fail "itemsd-migrate.service is not enabled (systemctl is-enabled: $enabled)"

if reported=$(/usr/local/bin/itemsd --version 2>&1); then
    if [[ -n "$ITEMSD_VERSION" && "$reported" != "itemsd $ITEMSD_VERSION" ]]; then
        fail "itemsd --version printed '$reported', expected 'itemsd $ITEMSD_VERSION'"
    fi
else
    fail "/usr/local/bin/itemsd --version failed: $reported"
fi

# --- the operator account SSM sessions run as: reads the journal, cannot sudo, has no password --
if ops_groups=$(id -nG itemsd-ops 2>/dev/null); then
    [[ " $ops_groups " == *" systemd-journal "* ]] || fail "itemsd-ops is not in systemd-journal: journalctl -u itemsd would show it nothing"
    for group in wheel sudo admin; do
        [[ " $ops_groups " != *" $group "* ]] || fail "itemsd-ops is in $group: the operator account must not sudo"
    done
    if grep -rqsE '^[^#]*(^|[^a-z0-9_-])itemsd-ops([^a-z0-9_-]|$)' /etc/sudoers /etc/sudoers.d; then
        fail "a sudoers rule names itemsd-ops"
    fi
    ops_password=$(getent shadow itemsd-ops | cut -d: -f2)
    [[ "$ops_password" == '!'* || "$ops_password" == '*'* ]] || fail "itemsd-ops has a usable password"
else
    fail "user itemsd-ops is missing: SSM sessions run as it (terraform/modules/ssm)"
fi

# --- the RDS CA bundle matches the checksum install-rds-ca.sh recorded (and the manifest has) --
# Exactly one line naming the bundle, so that `sha256sum -c` cannot be pointed at another file.
rds_ca_dir=/usr/local/share/itemsd
if [[ -f "$rds_ca_dir/rds-global-bundle.pem.sha256" ]]; then
    recorded=$(<"$rds_ca_dir/rds-global-bundle.pem.sha256")
    if [[ ! "$recorded" =~ ^[0-9a-f]{64}\ \ rds-global-bundle\.pem$ ]]; then
        fail "$rds_ca_dir/rds-global-bundle.pem.sha256 is not one sha256sum line for rds-global-bundle.pem"
    elif ! sha256_output=$(cd "$rds_ca_dir" && sha256sum --check --strict rds-global-bundle.pem.sha256 2>&1); then
        fail "$rds_ca_dir/rds-global-bundle.pem does not match its recorded sha256: $sha256_output"
    elif ! grep -q '^-----BEGIN CERTIFICATE-----' "$rds_ca_dir/rds-global-bundle.pem"; then
        fail "$rds_ca_dir/rds-global-bundle.pem holds no PEM certificate"
    fi
fi

if ((failures > 0)); then
    echo "validate-image: $failures check(s) failed" >&2
    exit 1
fi
echo "validate-image: ok ($reported, itemsd.service enabled, itemsd-ops without sudo, RDS CA bundle matches its sha256, image clean)"
