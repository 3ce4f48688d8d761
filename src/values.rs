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
