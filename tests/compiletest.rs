//! Compile-fail cases of `pipeline!` and `#[para::pipeline]` (SPEC
//! section 4): each file in `tests/ui/pipeline/` and `tests/ui/stream/` holds
//! one mistake, and its `.stderr` the expected diagnostic. Regenerate with `TRYBUILD=overwrite` after a toolchain change
//! and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/pipeline/*.rs");
    t.compile_fail("tests/ui/stream/*.rs");
}
