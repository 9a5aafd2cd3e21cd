//! `itemsd`: see the library crate for everything; this only hands over to the CLI.

fn main() -> std::process::ExitCode {
    itemsd::cli::main()
}
