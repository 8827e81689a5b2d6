//! Byte sizes as users write them: `10GiB`, `500MB`, `1.5G`, `4096`, on the
//! command line (`gc --max-size`) and in store options (`multipart_part_size`).

/// Parses a size: a number (decimals allowed) and an optional unit. `KB`,
/// `MB`, `GB`, `TB` are powers of 1000; `KiB`… and the bare `K`, `M`,
/// `G`, `T` (as `du` and `sort -h` read them) are powers of 1024. Units are
/// case-insensitive, and a space may separate them from the number.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || {
        format!("invalid size {text:?}: expected a number and a unit, such as 500MiB, 10GiB or 2GB")
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000_u64.pow(2),
        "gb" => 1000_u64.pow(3),
        "tb" => 1000_u64.pow(4),
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    let bytes = number * multiplier as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("invalid size {text:?}: too large"));
    }
    Ok(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn units_and_their_bases() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("10GiB"), Ok(10 << 30));
        assert_eq!(parse_size("10 gib"), Ok(10 << 30));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("500MiB"), Ok(500 << 20));
        assert_eq!(parse_size("0"), Ok(0));
    }

    #[test]
    fn bad_sizes_name_the_value() {
        for bad in ["", "GiB", "10 GiBs", "-1G", "1..5G", "ten"] {
            let err = parse_size(bad).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
        assert!(
            parse_size("99999999999TiB")
                .unwrap_err()
                .contains("too large")
        );
    }
}
