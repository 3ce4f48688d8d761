//! Command-line value parsers shared by the commands' options: each takes a flag's text and
//! returns the number, or the message clap shows after the flag's name.

/// Parses a flag's value that must be a finite number >= 0 (a learning rate, a heart rate).
pub fn non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("expected a non-negative number, got {text:?}")),
    }
}

/// Parses a flag's value that must be a number in [0, 1) (a dropout, a factor, a share).
pub fn unit_interval(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(format!("expected a number in [0, 1), got {text:?}")),
    }
}

/// A parser of a flag's value that must be a whole number of at least `min` (a count, a size).
pub fn at_least(min: u32) -> impl Fn(&str) -> Result<u32, String> + Clone + Send + Sync {
    move |text| {
        whole_number(text)
            .filter(|&v| v >= min)
            .ok_or_else(|| format!("expected a whole number of at least {min}, got {text:?}"))
    }
}

/// A parser of a flag's value that must be a whole number from `min` to `max`.
pub fn between(min: u32, max: u32) -> impl Fn(&str) -> Result<u32, String> + Clone + Send + Sync {
    move |text| {
        whole_number(text)
            .filter(|v| (min..=max).contains(v))
            .ok_or_else(|| format!("expected a whole number from {min} to {max}, got {text:?}"))
    }
}

/// `text` as a whole number that fits a `u32`: `None` where it is not one (negative, a
/// fraction, too large, not a number).
fn whole_number(text: &str) -> Option<u32> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_are_refused_in_plain_words_outside_their_range() {
        assert_eq!(at_least(1)("3"), Ok(3));
        assert_eq!(
            at_least(1)("0"),
            Err("expected a whole number of at least 1, got \"0\"".into())
        );
        assert!(at_least(2)("-1").unwrap_err().contains("at least 2"));
        assert!(at_least(1)("1.5").is_err());
        assert!(at_least(1)("99999999999").is_err());
        assert_eq!(between(1, 10)("10"), Ok(10));
        assert_eq!(
            between(1, 10)("11"),
            Err("expected a whole number from 1 to 10, got \"11\"".into())
        );
    }
}
