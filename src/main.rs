//! The `poolscreen` binary: parse the command line, call the library, map the outcome
//! to an exit status (0 done, 1 fatal error, 2 usage error, 3 rows rejected with
//! `--strict`).

use clap::Parser;

/// mimalloc returns freed memory to the system promptly, which keeps the peak memory of
/// a city round near the size of what it holds (glibc keeps freed chunk buffers).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = poolscreen::cmd::Cli::parse();
    let status = poolscreen::cmd::main(cli).unwrap_or_else(|err| {
        eprintln!("poolscreen: error: {err}");
        err.exit_status()
    });
    std::process::exit(status);
}
