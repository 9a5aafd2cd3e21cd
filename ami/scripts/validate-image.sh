#!/usr/bin/env bash
# Fails the image build unless the image is ready to snapshot: cleanup left nothing behind,
# itemsd is installed with the expected modes, its unit is enabled, and the binary runs.
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
check_mode /etc/itemsd "755 root:root"
check_mode /etc/itemsd/itemsd.env "644 root:root"

enabled=$(systemctl is-enabled itemsd.service 2>&1) || true
[[ "$enabled" == enabled ]] || fail "itemsd.service is not enabled (systemctl is-enabled: $enabled)"

if reported=$(/usr/local/bin/itemsd --version 2>&1); then
    if [[ -n "$ITEMSD_VERSION" && "$reported" != "itemsd $ITEMSD_VERSION" ]]; then
        fail "itemsd --version printed '$reported', expected 'itemsd $ITEMSD_VERSION'"
    fi
else
    fail "/usr/local/bin/itemsd --version failed: $reported"
fi

if ((failures > 0)); then
    echo "validate-image: $failures check(s) failed" >&2
    exit 1
fi
echo "validate-image: ok ($reported, itemsd.service enabled, image clean)"
