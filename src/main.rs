//! The `poolscreen` binary: parse the command line, call the library, map the outcome
//! to an exit status (0 done, 1 fatal error, 2 usage error, 3 rows rejected with
//! `--strict`).

use clap::Parser;

fn main() {
    let cli = poolscreen::cmd::Cli::parse();
    let status = poolscreen::cmd::main(cli).unwrap_or_else(|err| {
        eprintln!("poolscreen: error: {err}");
        err.exit_status()
    });
    std::process::exit(status);
}
