//! `itemsd`: see the library crate for everything; this only hands over to the CLI.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    itemsd::cli::main()
}
