//! Compile-fail cases of `pipeline!` (SPEC section 4): each file in
//! `tests/ui/pipeline/` holds one mistake, and its `.stderr` the expected
//! diagnostic. Regenerate with `TRYBUILD=overwrite` after a toolchain change
//! and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/pipeline/*.rs");
}
