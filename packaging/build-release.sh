#!/usr/bin/env bash
# Builds the release itemsd binary for a static musl target and verifies what it built.
#
# Output, in dist/<target>/:
#   itemsd               stripped, static binary (what the AMI installs)
#   itemsd.debug         its debug info (line tables), linked by .gnu_debuglink; keep it with
#                        the release to symbolize crash backtraces, never install it
#   itemsd.version.json  version, git commit, rustc version, Cargo.lock sha256, target, size
#   SHA256SUMS           sha256 of the three files above (`sha256sum -c SHA256SUMS`)
#
# Env:
#   TARGET  x86_64-unknown-linux-musl (default) or aarch64-unknown-linux-musl (cross-built with
#           cargo-zigbuild and zig on PATH, binutils-aarch64-linux-gnu for objcopy/strip and,
#           to run --version, qemu-user-static: packaging/install-cross-tools.sh)
#   DIST    output root (default dist)
#   FEATURES  Cargo features (default mimalloc: musl's own allocator serialises threads on one
#             lock; the side-by-side numbers are in the README). Empty builds with musl's.
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
TARGET=${TARGET:-x86_64-unknown-linux-musl}
DIST=${DIST:-dist}
FEATURES=${FEATURES-mimalloc}

# Size budget for the stripped binary. Measured (rustc 1.95, x86_64 musl, static non-PIE):
# 3,187,336 bytes before the AWS SDK, 9,916,144 bytes (9.46 MiB) with the CloudWatch, Logs and
# Secrets Manager clients on a single TLS stack (rustls on ring). An SDK program with the SDK's
# default two TLS stacks (aws-lc-rs and ring) measured 14.8 MB: 12 MiB admits the first and
# fails the second. Going over means a dependency pulled in a second TLS stack or the like;
# look before raising it.
readonly SIZE_BUDGET_BYTES=$((12 * 1024 * 1024))

die() {
    echo "build-release: error: $*" >&2
    exit 1
}

case "$TARGET" in
x86_64-unknown-linux-musl)
    cargo_build=(cargo build)
    elf_machine='Advanced Micro Devices X86-64'
    binutils_prefix=
    # C code in dependencies (ring, via the AWS SDK's rustls) is compiled for musl by cc-rs,
    # which looks for x86_64-linux-musl-gcc; Debian's musl-tools names its wrapper musl-gcc.
    if [[ -z "${CC_x86_64_unknown_linux_musl:-}" ]]; then
        command -v musl-gcc >/dev/null ||
            die "musl-gcc not found: apt-get install musl-tools (C dependencies are compiled for musl)"
        export CC_x86_64_unknown_linux_musl=musl-gcc
    fi
    ;;
aarch64-unknown-linux-musl)
    command -v cargo-zigbuild >/dev/null ||
        die "TARGET=$TARGET needs cargo-zigbuild and zig on PATH: run packaging/install-cross-tools.sh and put its venv's bin on PATH"
    cargo_build=(cargo zigbuild)
    elf_machine='AArch64'
    binutils_prefix=aarch64-linux-gnu-
    ;;
*) die "TARGET=$TARGET is not supported (x86_64-unknown-linux-musl or aarch64-unknown-linux-musl)" ;;
esac
objcopy=${binutils_prefix}objcopy
strip=${binutils_prefix}strip
for tool in cargo rustc readelf "$objcopy" "$strip" sha256sum git python3; do
    command -v "$tool" >/dev/null || die "$tool not found (Debian: binutils or binutils-aarch64-linux-gnu for readelf/objcopy/strip, coreutils, git, python3; rustup for cargo/rustc)"
done
if command -v rustup >/dev/null; then
    grep -qx "$TARGET" <<<"$(rustup target list --installed)" ||
        die "Rust target $TARGET is not installed: rustup target add $TARGET"
fi
[[ -f Cargo.lock ]] || die "Cargo.lock missing: release builds are --locked"

# A static, non-PIE executable: musl targets otherwise link static-pie, which has no
# interpreter but keeps a dynamic section for self-relocation. Target-scoped so that host
# build scripts and proc macros (shared with other builds in target/) are not rebuilt.
# Cost: the executable image loads at a fixed address (heap, stack and mmap stay randomized).
target_env=$(echo "$TARGET" | tr 'a-z-' 'A-Z_')
export "CARGO_TARGET_${target_env}_RUSTFLAGS=-C target-feature=+crt-static -C relocation-model=static"

start=$(date +%s)
feature_args=()
[[ -z "$FEATURES" ]] || feature_args=(--features "$FEATURES")
echo "build-release: ${cargo_build[*]} --locked --release --target $TARGET --bin itemsd ${feature_args[*]}"
"${cargo_build[@]}" --locked --release --target "$TARGET" --bin itemsd "${feature_args[@]}"
build_seconds=$(($(date +%s) - start))

target_dir=$(cargo metadata --locked --no-deps --format-version 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
built=$target_dir/$TARGET/release/itemsd
[[ -x "$built" ]] || die "cargo did not produce $built"
out=$DIST/$TARGET
rm -rf "$out"
mkdir -p "$out"

# Split the debug info: keep it in itemsd.debug, strip the binary, and record the debug file's
# name and CRC in the binary (.gnu_debuglink) so gdb finds it when placed beside the binary.
"$objcopy" --only-keep-debug "$built" "$out/itemsd.debug"
"$strip" --strip-all -o "$out/itemsd" "$built"
"$objcopy" --add-gnu-debuglink="$out/itemsd.debug" "$out/itemsd"
chmod 0755 "$out/itemsd"
chmod 0644 "$out/itemsd.debug"

# --- verify -------------------------------------------------------------------------------
headers=$(readelf --file-header --program-headers --wide "$out/itemsd")
grep -q "Machine: *$elf_machine" <<<"$headers" || die "$out/itemsd is not a $elf_machine executable"
grep -q 'Type: *EXEC' <<<"$headers" || die "$out/itemsd is not a static non-PIE executable (ELF type is not EXEC)"
if grep -q 'INTERP' <<<"$headers"; then
    die "$out/itemsd has an ELF interpreter: it is dynamically linked"
fi
dynamic=$(readelf --dynamic "$out/itemsd")
grep -q 'There is no dynamic section in this file' <<<"$dynamic" ||
    die "$out/itemsd has a dynamic section: $(head -3 <<<"$dynamic")"
grep -q 'itemsd.debug' <<<"$(readelf --string-dump=.gnu_debuglink "$out/itemsd")" ||
    die "$out/itemsd lacks the .gnu_debuglink to itemsd.debug"

size=$(stat -c %s "$out/itemsd")
if ((size > SIZE_BUDGET_BYTES)); then
    die "$out/itemsd is $size bytes, over the budget of $SIZE_BUDGET_BYTES bytes (see SIZE_BUDGET_BYTES in $0)"
fi

version=$(cargo metadata --locked --no-deps --format-version 1 |
    python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "itemsd"))')
# Run it: natively, or through binfmt/qemu-user for another architecture when available.
runner=()
if [[ "$TARGET" != "$(uname -m)"-* ]]; then
    qemu=qemu-$(cut -d- -f1 <<<"$TARGET")-static
    if command -v "$qemu" >/dev/null; then
        runner=("$(command -v "$qemu")")
    else
        echo "build-release: warning: $qemu not found: --version not run for $TARGET" >&2
        runner=(skip)
    fi
fi
if [[ "${runner[*]}" != skip ]]; then
    reported=$(env -i "${runner[@]}" "$out/itemsd" --version) || die "$out/itemsd --version failed"
    [[ "$reported" == "itemsd $version" ]] || die "$out/itemsd --version printed '$reported', expected 'itemsd $version'"
fi

# --- record -------------------------------------------------------------------------------
commit=$(git rev-parse HEAD)
if [[ -n "$(git status --porcelain --untracked-files=no -- Cargo.toml Cargo.lock src build.rs 2>/dev/null)" ]]; then
    commit="$commit-dirty"
fi
python3 - "$out/itemsd.version.json" <<PY
import json, sys
json.dump({
    "name": "itemsd",
    "version": "$version",
    "git_commit": "$commit",
    "rustc": "$(rustc --version)",
    "cargo_lock_sha256": "$(sha256sum Cargo.lock | cut -d' ' -f1)",
    "target": "$TARGET",
    "binary_bytes": $size,
    "size_budget_bytes": $SIZE_BUDGET_BYTES,
    "built_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
}, open(sys.argv[1], "w"), indent=2)
open(sys.argv[1], "a").write("\n")
PY
(cd "$out" && sha256sum itemsd itemsd.debug itemsd.version.json >SHA256SUMS && sha256sum --check --quiet SHA256SUMS)

echo "build-release: $out/itemsd: itemsd $version, $size bytes (budget $SIZE_BUDGET_BYTES), static, cargo ${build_seconds}s"
