//! Shared helpers of the workspace-level integration tests.

use std::io::Write as _;
use std::sync::mpsc;
use std::time::Duration;

/// Reads an unsigned knob of a long local run from the environment.
///
/// # Panics
///
/// If the variable is set but is not an unsigned integer.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().parse().expect("an unsigned integer"))
        .unwrap_or(default)
}

/// Runs `f`, failing the test (the whole binary: a hung run cannot be
/// interrupted) if it has not returned after a minute, naming `what`.
/// A hang detector, not a time limit: the cases it guards take
/// milliseconds.
pub fn watchdog<R>(what: &str, f: impl FnOnce() -> R) -> R {
    let (done, wait) = mpsc::channel::<()>();
    let what_owned = what.to_owned();
    let dog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(Duration::from_secs(60)) {
            let _ = writeln!(std::io::stderr(), "hang: {what_owned}");
            std::process::exit(101);
        }
    });
    let result = f();
    drop(done);
    dog.join().unwrap();
    result
}
