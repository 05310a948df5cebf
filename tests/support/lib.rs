//! Shared helpers of the workspace-level integration tests.

use std::any::{Any, TypeId};
use std::io::Write as _;
use std::sync::{mpsc, Mutex, Once};
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

/// Keeps the panics of this binary whose payload is a `P` (tests inject
/// them with `std::panic::panic_any`) out of the test output; any other
/// panic still prints through the default hook. Installs the hook once;
/// each call adds `P` to the payload types it silences.
pub fn quiet_panics_of<P: Any>() {
    static SILENCED: Mutex<Vec<TypeId>> = Mutex::new(Vec::new());
    static HOOK: Once = Once::new();
    {
        let mut silenced = SILENCED.lock().unwrap_or_else(|e| e.into_inner());
        if !silenced.contains(&TypeId::of::<P>()) {
            silenced.push(TypeId::of::<P>());
        }
    }
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload: &(dyn Any + Send) = info.payload();
            let silenced = SILENCED.lock().unwrap_or_else(|e| e.into_inner());
            if !silenced.contains(&payload.type_id()) {
                drop(silenced);
                default(info);
            }
        }));
    });
}

/// The payload of a panic a test injects (with `std::panic::panic_any`):
/// the item it happened at.
#[derive(Debug, PartialEq, Eq)]
pub struct Boom(pub u64);

/// Runs the test `name` of this test binary alone in a child process, with
/// the environment variable `var` set to `value` (the child test does its
/// work only when it is set), and returns the child's stderr. Fails the
/// test if the child test failed.
pub fn child_test_stderr(name: &str, var: &str, value: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(var, value)
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child {name} failed: {stderr}");
    stderr
}
