//! Progress: the engine reports events; the CLI draws them (a progress bar on a terminal,
//! plain lines elsewhere). The engine never prints.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub enum Event {
    /// Reading live state: `done` of `total` reads finished.
    Read { done: usize, total: usize },
    /// A resource's write started (`verb`: creating, updating, deleting, restoring, purging).
    Started { address: String, verb: &'static str },
    /// Still waiting on a long-running operation.
    Waiting {
        address: String,
        verb: &'static str,
        elapsed: Duration,
    },
    /// A resource's write finished.
    Finished {
        address: String,
        verb: &'static str,
        elapsed: Duration,
        ok: bool,
    },
    /// A resource was not attempted because something it needs failed.
    Skipped { address: String, because: String },
    /// A transient failure is being retried (429, 5xx, conflict, replication delay).
    Retrying { address: String, why: String },
}

pub trait Reporter: Send + Sync {
    fn event(&self, e: Event);
}

/// Reports nothing (tests, JSON output).
pub struct Silent;

impl Reporter for Silent {
    fn event(&self, _: Event) {}
}

/// Plain lines on stderr, for CI logs: the same facts, no spinners, no colour. Read progress
/// is printed once at the end, not per read.
pub struct Plain {
    started: Instant,
    last_read: Mutex<Option<(usize, usize)>>,
}

impl Default for Plain {
    fn default() -> Self {
        Plain {
            started: Instant::now(),
            last_read: Mutex::new(None),
        }
    }
}

pub fn elapsed_text(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{}.{}s", s, d.subsec_millis() / 100)
    }
}

impl Reporter for Plain {
    fn event(&self, e: Event) {
        match e {
            Event::Read { done, total } => {
                if done == total {
                    eprintln!(
                        "read {total} resources from Azure ({})",
                        elapsed_text(self.started.elapsed())
                    );
                }
                if let Ok(mut l) = self.last_read.lock() {
                    *l = Some((done, total));
                }
            }
            Event::Started { address, verb } => eprintln!("{address}: {verb}"),
            Event::Waiting {
                address,
                verb,
                elapsed,
            } => {
                // A line a minute at most, so a 40-minute APIM creation stays readable.
                if elapsed.as_secs() % 60 < 5 && elapsed.as_secs() >= 60 {
                    eprintln!("{address}: still {verb} ({})", elapsed_text(elapsed));
                }
            }
            Event::Finished {
                address,
                verb,
                elapsed,
                ok,
            } => {
                let done = if ok { "done" } else { "FAILED" };
                eprintln!("{address}: {verb} {done} ({})", elapsed_text(elapsed));
            }
            Event::Skipped { address, because } => eprintln!("{address}: skipped ({because})"),
            Event::Retrying { address, why } => eprintln!("{address}: retrying ({why})"),
        }
    }
}

/// indicatif bars on a terminal: one line for reads, one spinner per resource in flight.
pub struct Terminal {
    multi: indicatif::MultiProgress,
    read: Mutex<Option<indicatif::ProgressBar>>,
    bars: Mutex<std::collections::BTreeMap<String, indicatif::ProgressBar>>,
}

impl Default for Terminal {
    fn default() -> Self {
        Terminal {
            multi: indicatif::MultiProgress::with_draw_target(
                indicatif::ProgressDrawTarget::stderr(),
            ),
            read: Mutex::new(None),
            bars: Mutex::new(Default::default()),
        }
    }
}

impl Reporter for Terminal {
    fn event(&self, e: Event) {
        use indicatif::{ProgressBar, ProgressStyle};
        match e {
            Event::Read { done, total } => {
                let Ok(mut r) = self.read.lock() else { return };
                let bar = r.get_or_insert_with(|| {
                    let b = self.multi.add(ProgressBar::new(total as u64));
                    b.set_style(
                        ProgressStyle::with_template("reading Azure {bar:30} {pos}/{len}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    b
                });
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                if done == total {
                    bar.finish_and_clear();
                }
            }
            Event::Started { address, verb } => {
                let b = self.multi.add(ProgressBar::new_spinner());
                b.set_style(
                    ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                b.set_message(format!("{address}: {verb}"));
                b.enable_steady_tick(Duration::from_millis(120));
                if let Ok(mut bars) = self.bars.lock() {
                    bars.insert(address, b);
                }
            }
            Event::Waiting { .. } => {}
            Event::Finished {
                address,
                verb,
                elapsed,
                ok,
            } => {
                if let Ok(mut bars) = self.bars.lock()
                    && let Some(b) = bars.remove(&address)
                {
                    b.finish_and_clear();
                }
                let mark = if ok { "✓" } else { "✗" };
                let _ = self.multi.println(format!(
                    "{mark} {address}: {verb} {} ({})",
                    if ok { "done" } else { "failed" },
                    elapsed_text(elapsed)
                ));
            }
            Event::Skipped { address, because } => {
                let _ = self
                    .multi
                    .println(format!("- {address}: skipped ({because})"));
            }
            Event::Retrying { address, why } => {
                if let Ok(bars) = self.bars.lock()
                    && let Some(b) = bars.get(&address)
                {
                    b.set_message(format!("{address}: retrying ({why})"));
                }
            }
        }
    }
}
