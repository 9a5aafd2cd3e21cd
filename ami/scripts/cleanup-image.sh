#!/usr/bin/env bash
# Removes what makes an image one machine's rather than a template, last thing before the
# snapshot: machine id, SSH host keys, authorized keys left by the build, logs (journal
# included), cloud-init state, temporary files. Every instance gets fresh ones at first boot.
# Runs as root, on the Packer build instance or in the boot test's chroot. No inputs.
set -o errexit -o nounset -o pipefail

[[ "$(id -u)" == 0 ]] || {
    echo "cleanup-image: error: must run as root" >&2
    exit 1
}

# systemd is running when this is a live instance (Packer), not in the boot test's chroot.
live=false
[[ -d /run/systemd/system ]] && live=true

# Empty (not absent): systemd then generates a new id at first boot (ConditionFirstBoot).
if [[ -e /etc/machine-id ]]; then
    : >/etc/machine-id
fi
# A copy, not the usual symlink to /etc/machine-id, would keep the old id.
if [[ -f /var/lib/dbus/machine-id && ! -L /var/lib/dbus/machine-id ]]; then
    rm -f /var/lib/dbus/machine-id
fi

rm -f /etc/ssh/ssh_host_*
# Packer's temporary key pair; cloud-init installs the instance's key at launch.
rm -f /root/.ssh/authorized_keys /home/*/.ssh/authorized_keys
rm -f /root/.bash_history /home/*/.bash_history

# cloud-init state, so the next boot runs it as a first boot (new instance id, user data).
if command -v cloud-init >/dev/null; then
    cloud-init clean --logs
fi
rm -rf /var/lib/cloud/instance /var/lib/cloud/instances/* /var/lib/cloud/data/* /var/lib/cloud/sem/*
rm -f /var/log/cloud-init.log /var/log/cloud-init-output.log

# The journal: on a live instance, first make journald write to /run only until the next
# boot, so that it does not recreate files under /var/log/journal before the snapshot.
if $live && command -v journalctl >/dev/null; then
    journalctl --relinquish-var
fi
find /var/log -type f -delete
rm -rf /tmp/* /var/tmp/*
if command -v dnf >/dev/null; then
    dnf clean all >/dev/null
fi
echo "cleanup-image: machine id, SSH host keys, logs, cloud-init state removed"
