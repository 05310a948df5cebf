// `?` through an alias of `Result`, converting the error with `From`.
#[derive(Debug, PartialEq)]
struct BadLine(String);

impl From<std::num::ParseIntError> for BadLine {
    fn from(e: std::num::ParseIntError) -> Self {
        BadLine(e.to_string())
    }
}

type Outcome<T> = Result<T, BadLine>;

#[para::pipeline(threads = 2)]
fn parse_sum(lines: &[&str]) -> Outcome<i64> {
    let mut sum = 0;
    #[stream]
    for line in lines {
        #[stage(ordered)]
        let value: i64 = line.parse()?;
        #[stage]
        sum += value;
    }
    Ok(sum)
}

fn main() {
    assert_eq!(parse_sum(&["1", "2"]), Ok(3));
    assert!(parse_sum(&["1", "x"]).is_err());
}
