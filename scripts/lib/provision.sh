# shellcheck shell=bash
# Runs the AMI's provisioner scripts (ami/scripts/) in a root filesystem, the way Packer runs
# them on the build instance: files staged first (file provisioners), then each script fed on
# stdin to bash (shell provisioner). Sourced by the boot tests so both provision identically.

# in_chroot ROOTFS CMD...: runs CMD in ROOTFS with a clean environment.
in_chroot() {
    local rootfs=$1
    shift
    chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# provision_rootfs ROOTFS BINARY: stages the binary and the unit, installs, cleans up. Prints
# nothing on success; validate-image.sh is left to the caller, which reports it its own way.
provision_rootfs() {
    local rootfs=$1 binary=$2 staging=/tmp/itemsd-staging version
    mkdir -p "$rootfs$staging"
    install -m 0755 "$binary" "$rootfs$staging/itemsd"
    install -m 0644 systemd/itemsd.service systemd/itemsd.env "$rootfs$staging/"
    version=$("$binary" --version | cut -d' ' -f2)
    in_chroot "$rootfs" ITEMSD_STAGING="$staging" ITEMSD_VERSION="$version" /bin/bash -s <ami/scripts/install-itemsd.sh
    in_chroot "$rootfs" /bin/bash -s <ami/scripts/cleanup-image.sh
}
