# shellcheck shell=bash
# Runs the AMI's provisioner scripts (ami/scripts/) in a root filesystem, the way Packer runs
# them on the build instance: files staged first (file provisioners), then each script fed on
# stdin to bash (shell provisioner). Sourced by the boot tests so both provision identically.
# Needs openssl on the host; the root filesystem needs curl and openssl (as AL2023 has them) for
# install-rds-ca.sh.

# in_chroot ROOTFS CMD...: runs CMD in ROOTFS with a clean environment.
in_chroot() {
    local rootfs=$1
    shift
    chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# make_test_ca_bundle FILE: writes a PEM bundle of two throwaway self-signed CA certificates
# (keys discarded) to FILE: a stand-in for the RDS global bundle, which the boot tests cannot
# fetch (they run offline) and which itemsd does not use there (its test database has no TLS).
make_test_ca_bundle() {
    local file=$1 i output
    : >"$file"
    for i in 1 2; do
        output=$(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout /dev/null -subj "/CN=itemsd boot test CA $i" -days 2 -out "$file.$i" 2>&1) || {
            printf 'make_test_ca_bundle: openssl req failed:\n%s\n' "$output" >&2
            return 1
        }
        cat "$file.$i" >>"$file"
        rm -f "$file.$i"
    done
}

# provision_rootfs ROOTFS BINARY: stages the binary and the unit, installs, installs the CA
# bundle, cleans up. Prints only the scripts' own lines on success; validate-image.sh is left
# to the caller, which reports it its own way.
provision_rootfs() {
    local rootfs=$1 binary=$2 staging=/tmp/itemsd-staging version
    mkdir -p "$rootfs$staging"
    install -m 0755 "$binary" "$rootfs$staging/itemsd"
    install -m 0644 systemd/itemsd.service systemd/itemsd-migrate.service systemd/itemsd.env "$rootfs$staging/"
    version=$("$binary" --version | cut -d' ' -f2)
    in_chroot "$rootfs" ITEMSD_STAGING="$staging" ITEMSD_VERSION="$version" /bin/bash -s <ami/scripts/install-itemsd.sh
    provision_rds_ca "$rootfs"
    in_chroot "$rootfs" /bin/bash -s <ami/scripts/cleanup-image.sh
}

# provision_rds_ca ROOTFS: runs install-rds-ca.sh in ROOTFS as Packer runs it, but offline: the
# URL is a file:// bundle generated here (make_test_ca_bundle), pinned to its own sha256 so the
# pin's path runs too. The bundle is removed afterwards; the installed copy stays.
provision_rds_ca() {
    local rootfs=$1 ca_dir=/tmp/itemsd-test-rds-ca sha256
    mkdir -p "$rootfs$ca_dir"
    make_test_ca_bundle "$rootfs$ca_dir/bundle.pem"
    sha256=$(sha256sum "$rootfs$ca_dir/bundle.pem" | cut -d' ' -f1)
    in_chroot "$rootfs" RDS_CA_BUNDLE_URL="file://$ca_dir/bundle.pem" RDS_CA_BUNDLE_SHA256="$sha256" \
        /bin/bash -s <ami/scripts/install-rds-ca.sh
    rm -rf "${rootfs:?}$ca_dir"
}
