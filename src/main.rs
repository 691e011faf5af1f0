//! The `orgsync` binary: see `orgsync --help`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
