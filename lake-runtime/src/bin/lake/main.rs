//! The `lake` command line; it lives in the library as
//! [`lake_runtime::cli`], so that a pipeline's own binary can offer it too.

fn main() -> std::process::ExitCode {
    lake_runtime::cli::main()
}
