//! `#[para::pipeline]`: annotated sequential loops run as pipelines, with
//! the loop's sequential meaning (SPEC section 2).

use flate2::write::ZlibEncoder;
use flate2::Compression;
use std::io::Write;

fn zlib(chunk: &[u8], level: u32) -> std::io::Result<Vec<u8>> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::new(level));
    encoder.write_all(chunk)?;
    encoder.finish()
}

#[para::pipeline(threads = 4)]
fn compress(input: &[u8], level: u32) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    #[stream]
    for chunk in input.chunks(1 << 12) {
        #[stage(replicate = 4)]
        let z = zlib(chunk, level)?;
        #[stage(ordered)]
        out.extend_from_slice(&z);
    }
    Ok(out)
}

fn compress_sequential(input: &[u8], level: u32) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    for chunk in input.chunks(1 << 12) {
        let z = zlib(chunk, level)?;
        out.extend_from_slice(&z);
    }
    Ok(out)
}

#[test]
fn spec_example_matches_the_sequential_loop() {
    let input: Vec<u8> = (0..200_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    assert_eq!(
        compress(&input, 6).unwrap(),
        compress_sequential(&input, 6).unwrap()
    );
}

#[para::pipeline(threads = 3)]
fn odd_squares(n: u64) -> Vec<u64> {
    let mut out = Vec::new();
    #[stream]
    for x in 0..n {
        if x % 2 == 0 {
            continue;
        }
        #[stage(parallel)]
        let square = x * x;
        let doubled = square * 2;
        #[stage(ordered)]
        out.push(doubled / 2);
    }
    out
}

#[test]
fn continue_drops_items() {
    let expected: Vec<u64> = (0..1000u64).filter(|x| x % 2 == 1).map(|x| x * x).collect();
    assert_eq!(odd_squares(1000), expected);
}

#[para::pipeline(threads = 2)]
fn until_negative(values: &[i64]) -> (Vec<i64>, usize) {
    let mut seen = Vec::new();
    let mut stages = 0;
    #[stream]
    for &v in values {
        if v < 0 {
            break;
        }
        #[stage(ordered)]
        seen.push(v);
        stages += 1;
    }
    (seen, stages)
}

#[test]
fn break_stops_the_source() {
    let values = [3, 1, 4, 1, 5, -9, 2, 6];
    let (seen, stages) = until_negative(&values);
    assert_eq!(seen, vec![3, 1, 4, 1, 5]);
    assert_eq!(stages, 5);
}

#[para::pipeline(threads = 4)]
fn parse_all(lines: &[&str]) -> Result<i64, std::num::ParseIntError> {
    let mut sum = 0;
    #[stream]
    for line in lines.iter() {
        #[stage(ordered)]
        let value: i64 = line.trim().parse()?;
        #[stage]
        sum += value;
    }
    Ok(sum)
}

#[test]
fn question_mark_returns_the_first_error_in_source_order() {
    assert_eq!(parse_all(&["1", " 2", "3 "]), Ok(6));
    let lines: Vec<String> = (0..500)
        .map(|i| {
            if i == 300 || i == 400 {
                format!("x{i}")
            } else {
                i.to_string()
            }
        })
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let err = parse_all(&refs).unwrap_err();
    assert_eq!(
        err.to_string(),
        "x300".parse::<i64>().unwrap_err().to_string()
    );
}

#[para::pipeline(threads = 2)]
fn find_first(values: &[u32], target: u32) -> Option<usize> {
    #[stream]
    for (i, &v) in values.iter().enumerate() {
        #[stage(ordered)]
        if v == target {
            return Some(i);
        }
    }
    None
}

#[test]
fn return_from_an_ordered_stage() {
    let values: Vec<u32> = (0..10_000).map(|i| i % 97).collect();
    assert_eq!(find_first(&values, 42), Some(42));
    assert_eq!(find_first(&values, 500), None);
}

#[para::pipeline(threads = 3)]
fn word_stats(text: &str) -> (usize, usize, Vec<String>) {
    let mut words = 0;
    let mut letters = 0;
    let mut long = Vec::new();
    #[stream]
    for line in text.lines() {
        let owned = line.to_string();
        #[stage(parallel)]
        let count = owned.split_whitespace().count();
        let upper = owned.to_uppercase();
        #[stage]
        words += count;
        letters += upper.len();
        #[stage(ordered)]
        if count > 3 {
            long.push(upper);
        }
    }
    // A second stream loop in the same function.
    let mut lines = 0;
    #[stream]
    for _line in text.lines() {
        #[stage]
        lines += 1;
    }
    assert_eq!(lines, text.lines().count());
    (words, letters, long)
}

#[test]
fn variables_cross_stages_and_several_loops() {
    let text = "a b\nc d e f\ng\nh i j k l\n";
    let (words, letters, long) = word_stats(text);
    assert_eq!(words, 12);
    assert_eq!(letters, text.lines().map(str::len).sum::<usize>());
    assert_eq!(long, vec!["C D E F".to_string(), "H I J K L".to_string()]);
}

#[para::pipeline(threads = 2)]
fn sum_generic<T: Copy + Send + Sync + Into<u64>>(items: &[T]) -> u64 {
    let mut total = 0u64;
    #[stream]
    for &item in items {
        #[stage(parallel)]
        let wide: u64 = item.into();
        #[stage]
        total += wide;
    }
    total
}

struct Counter {
    offset: u64,
    total: u64,
}

impl Counter {
    #[para::pipeline(threads = 2)]
    fn shifted(&self, n: u64) -> Vec<u64> {
        let mut out = Vec::new();
        #[stream]
        for x in 0..n {
            #[stage(parallel)]
            let y = x + self.offset;
            #[stage(ordered)]
            out.push(y);
        }
        out
    }

    #[para::pipeline(threads = 2)]
    fn add_all(&mut self, n: u64) {
        #[stream]
        for x in 0..n {
            #[stage]
            self.total += x;
        }
    }
}

#[test]
fn generic_functions_and_methods() {
    assert_eq!(sum_generic(&[1u8, 2, 3]), 6);
    assert_eq!(sum_generic(&[10u32, 20]), 30);
    let mut c = Counter {
        offset: 100,
        total: 0,
    };
    assert_eq!(c.shifted(5), vec![100, 101, 102, 103, 104]);
    c.add_all(10);
    assert_eq!(c.total, 45);
}

#[para::pipeline(threads = 2)]
fn nested_control_flow(rows: &[Vec<i32>]) -> Vec<i32> {
    let mut out = Vec::new();
    #[stream]
    for row in rows {
        #[stage(parallel)]
        let mut best = i32::MIN;
        for &v in row {
            if v < 0 {
                continue; // the inner loop's continue
            }
            if v > 100 {
                break; // the inner loop's break
            }
            best = best.max(v);
        }
        let clamp = |x: i32| -> i32 {
            if x < 0 {
                return 0; // the closure's return
            }
            x
        };
        let best = clamp(best);
        #[stage(ordered)]
        out.push(best);
    }
    out
}

#[test]
fn nested_loops_and_closures_keep_their_control_flow() {
    let rows = vec![vec![1, -5, 7], vec![-1, -2], vec![3, 200, 9], vec![]];
    assert_eq!(nested_control_flow(&rows), vec![7, 0, 3, 0]);
}

#[para::pipeline(threads = 2, capacity = 4, batch = 2)]
fn with_priority(n: u32) -> u32 {
    let mut total = 0;
    #[stream]
    for x in 0..n {
        #[stage(replicate = 2, priority = 5)]
        let y = x + 1;
        #[stage(priority = 1)]
        total += y;
    }
    total
}

#[test]
fn all_options() {
    assert_eq!(with_priority(100), (1..=100).sum());
}
