// Several stages use `?` with different error types; each converts into
// the pipeline's error type with `From`, fixed by an annotation or by the
// function whose tail the pipeline is.
use para::prelude::*;
use std::num::ParseIntError;

#[derive(Debug, PartialEq)]
enum AppError {
    Parse(String),
    TooBig(u32),
}

impl From<ParseIntError> for AppError {
    fn from(e: ParseIntError) -> Self {
        AppError::Parse(e.to_string())
    }
}

struct TooBig(u32);

impl From<TooBig> for AppError {
    fn from(e: TooBig) -> Self {
        AppError::TooBig(e.0)
    }
}

fn check(n: u32) -> Result<u32, TooBig> {
    if n > 100 {
        Err(TooBig(n))
    } else {
        Ok(n)
    }
}

fn total(lines: Vec<&'static str>) -> Result<u32, AppError> {
    let mut sum = 0;
    let report: Result<Report, AppError> = pipeline!(threads = 2,
        lines => |s| s.trim().parse::<u32>()? => #[serial] |n| check(n)? * 2 => |n| sum += n);
    report?;
    Ok(sum)
}

fn run(lines: Vec<&'static str>, out: &mut Vec<u32>) -> Result<Report, AppError> {
    pipeline!(lines => |s| -> u32 { s.parse()? } => #[ordered] |n| out.push(check(n)?))
}

fn main() {
    assert_eq!(total(vec!["1", " 2", "3"]), Ok(12));
    assert_eq!(
        total(vec!["1", "x", "3"]),
        Err(AppError::Parse("invalid digit found in string".into()))
    );
    assert_eq!(total(vec!["500"]), Err(AppError::TooBig(500)));
    let mut out = Vec::new();
    let report = run(vec!["4", "5"], &mut out).unwrap();
    assert_eq!(out, [4, 5]);
    assert_eq!(report.nodes().len(), 3);
    let mut out = Vec::new();
    assert_eq!(run(vec!["4", "200", "6"], &mut out).unwrap_err(), AppError::TooBig(200));
    assert_eq!(out[0], 4);
}
