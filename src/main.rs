//! The `orgsync` binary: see `orgsync --help`.

fn main() -> std::process::ExitCode {
    orgsync::cli::main()
}
