//! The `--progress` flag of the `compress` and `wordfreq` examples.

/// `--progress` among the arguments (removed from them): whether to show
/// para's progress line, which needs this package's `progress` feature.
pub fn progress_flag(args: &mut Vec<String>, example: &str) -> bool {
    let Some(at) = args.iter().position(|a| a == "--progress") else {
        return false;
    };
    args.remove(at);
    if cfg!(not(feature = "progress")) {
        eprintln!(
            "--progress needs the `progress` feature (para's live progress line); run \
             `cargo run --release --features progress --example {example} -- --progress ...`. \
             Going on without it."
        );
    }
    true
}
