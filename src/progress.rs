//! Progress on standard error: one spinner line per stage of a run, shown only when
//! standard error is a terminal, the run is not `--quiet`, and the stage takes longer
//! than about a second. With `POOLSCREEN_TIMINGS=1` in the environment, every stage's
//! wall time, the CPU time the process spent in it (user and system, every thread; the
//! system part apart) and its page faults are printed instead, for profiling: CPU time
//! well under the wall time times the cores hints at a stage waiting on one thread (idle
//! workers spin a little before they sleep, so it is a hint, not a measure). Stage names
//! never hold personal data.

/// Writes a line to standard output, as `println!` does, but never fails: output piped
/// into `head` that stops reading ends the printing, not in a panic.
#[macro_export]
macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Writes a line to standard error, as `eprintln!` does, but never fails: a closed
/// stderr (piped into `head`, say) must not stop a run halfway, with no outputs.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Reports the stages of one run.
#[derive(Clone, Debug)]
pub struct Progress {
    show: bool,
    timings: bool,
}

impl Progress {
    /// Progress for a run; `quiet` turns every display off.
    pub fn new(quiet: bool) -> Progress {
        Progress {
            show: !quiet && std::io::stderr().is_terminal(),
            timings: std::env::var_os("POOLSCREEN_TIMINGS").is_some(),
        }
    }

    /// Progress that shows nothing.
    pub fn hidden() -> Progress {
        Progress {
            show: false,
            timings: false,
        }
    }

    /// Starts a stage; it ends when the returned guard is dropped.
    pub fn stage(&self, name: &'static str) -> Stage {
        // The spinner appears only once the stage has run for a second, from a thread
        // of its own, so short stages and short runs print nothing.
        let spinner = self.show.then(|| {
            let (done, wait) = mpsc::channel::<()>();
            let thread = std::thread::spawn(move || {
                if wait.recv_timeout(Duration::from_secs(1)) != Err(RecvTimeoutError::Timeout) {
                    return;
                }
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                        .expect("a valid template"),
                );
                bar.set_message(name);
                bar.enable_steady_tick(Duration::from_millis(200));
                let _ = wait.recv();
                bar.finish_and_clear();
            });
            (done, thread)
        });
        Stage {
            name,
            started: Instant::now(),
            cpu: if self.timings {
                Usage::now()
            } else {
                Usage::default()
            },
            spinner,
            timings: self.timings,
        }
    }
}

/// One running stage.
pub struct Stage {
    name: &'static str,
    started: Instant,
    /// The process's CPU time and page faults when the stage started.
    cpu: Usage,
    spinner: Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
    timings: bool,
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some((done, thread)) = self.spinner.take() {
            let _ = done.send(());
            let _ = thread.join();
        }
        if self.timings {
            let now = Usage::now();
            crate::say!(
                "poolscreen: stage {:<10} {:>8.3} s  cpu {:.3} s (system {:.3} s)  faults {} k  rss {} MB  peak {} MB",
                self.name,
                self.started.elapsed().as_secs_f64(),
                now.user + now.system - self.cpu.user - self.cpu.system,
                now.system - self.cpu.system,
                now.faults.saturating_sub(self.cpu.faults) / 1000,
                memory("VmRSS:"),
                memory("VmHWM:")
            );
        }
    }
}

/// The CPU seconds (user and system, every thread) this process has used so far and the
/// page faults it has taken; zeros where unknown.
#[derive(Clone, Copy, Default)]
struct Usage {
    user: f64,
    system: f64,
    faults: u64,
}

impl Usage {
    fn now() -> Usage {
        #[cfg(unix)]
        {
            let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
            // SAFETY: getrusage writes the struct it is given and nothing else; it is read
            // only when the call succeeds.
            if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } == 0 {
                // SAFETY: the call succeeded, so the struct is written.
                let usage = unsafe { usage.assume_init() };
                let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
                return Usage {
                    user: seconds(usage.ru_utime),
                    system: seconds(usage.ru_stime),
                    faults: (usage.ru_minflt + usage.ru_majflt) as u64,
                };
            }
        }
        Usage::default()
    }
}

/// A memory figure of this process from `/proc/self/status`, in MB (0 where unknown).
fn memory(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with(key))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb / 1024)
}
