//! Progress on standard error: one spinner line per stage of a run, shown only when
//! standard error is a terminal, the run is not `--quiet`, and the stage takes longer
//! than about a second. With `POOLSCREEN_TIMINGS=1` in the environment, every stage's
//! wall time is printed instead, for profiling. Stage names never hold personal data.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
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
        let bar = self.show.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .expect("a valid template"),
            );
            bar.set_message(name);
            // Drawn only once the stage has run for a second: short stages stay silent.
            bar.enable_steady_tick(Duration::from_millis(1000));
            bar
        });
        Stage {
            name,
            started: Instant::now(),
            bar,
            timings: self.timings,
        }
    }
}

/// One running stage.
pub struct Stage {
    name: &'static str,
    started: Instant,
    bar: Option<ProgressBar>,
    timings: bool,
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.timings {
            eprintln!(
                "poolscreen: stage {:<10} {:>8.3} s  rss {} MB  peak {} MB",
                self.name,
                self.started.elapsed().as_secs_f64(),
                memory("VmRSS:"),
                memory("VmHWM:")
            );
        }
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
