//! Compile-time cases of `pipeline!` and `#[para::pipeline]` (SPEC
//! section 4): each file in `tests/ui/pipeline/` and `tests/ui/stream/`
//! holds one mistake, and its `.stderr` the expected diagnostic; each file
//! in `tests/ui-pass/` must compile and run (cases the macros once got
//! wrong: scoping of loop locals, `?` through type aliases, user functions
//! named like combinators; `yield`, `scope` and `?` in `pipeline!`).
//! Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite` after a toolchain change and review the diff.
//! `tests/ui/without_progress/` holds what is an error only without the
//! `progress` feature, so `--features progress` skips it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/pipeline/*.rs");
    t.compile_fail("tests/ui/stream/*.rs");
    #[cfg(not(feature = "progress"))]
    t.compile_fail("tests/ui/without_progress/*.rs");
    t.pass("tests/ui-pass/pipeline/*.rs");
    t.pass("tests/ui-pass/stream/*.rs");
}
