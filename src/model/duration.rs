//! Durations as users write them (`30s`, `1m`, `2h`, ISO 8601 `PT1M`), held as whole seconds
//! and written back to Azure as ISO 8601.

/// Parses `30s`, `1m`, `2h`, `1d` or an ISO 8601 duration (`PT30S`, `PT1M30S`, `P1D`).
pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if t.starts_with(['P', 'p']) {
        return parse_iso(t);
    }
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        "" => return Err(format!("`{text}` has no unit")),
        _ => return Err(format!("`{text}` has an unknown unit `{unit}`")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{text}` is too long"))
}

fn parse_iso(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not an ISO 8601 duration");
    let upper = text.to_ascii_uppercase();
    let rest = &upper[1..];
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total: u64 = 0;
    let mut any = false;
    let mut eat = |part: &str, units: &[(char, u64)]| -> Result<(), String> {
        let mut num = String::new();
        let mut allowed = units.iter();
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let mult = loop {
                match allowed.next() {
                    Some((u, m)) if *u == c => break *m,
                    Some(_) => continue,
                    None => return Err(bad()),
                }
            };
            let n: u64 = num.parse().map_err(|_| bad())?;
            total = total.saturating_add(n.saturating_mul(mult));
            num.clear();
            any = true;
        }
        if num.is_empty() { Ok(()) } else { Err(bad()) }
    };
    eat(date, &[('W', 604_800), ('D', 86_400)])?;
    if let Some(t) = time {
        if t.is_empty() {
            return Err(bad());
        }
        eat(t, &[('H', 3600), ('M', 60), ('S', 1)])?;
    }
    if any { Ok(total) } else { Err(bad()) }
}

/// Writes seconds as ISO 8601 the way Azure returns it (`PT1M`, `PT1H30M`, `PT45S`).
pub fn to_iso(secs: u64) -> String {
    if secs == 0 {
        return "PT0S".into();
    }
    let (d, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let mut out = String::from("P");
    if d > 0 {
        out.push_str(&format!("{d}D"));
    }
    if h + m + s > 0 {
        out.push('T');
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0 {
            out.push_str(&format!("{m}M"));
        }
        if s > 0 {
            out.push_str(&format!("{s}S"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        assert_eq!(parse("30s"), Ok(30));
        assert_eq!(parse("1m"), Ok(60));
        assert_eq!(parse("2h"), Ok(7200));
        assert!(parse("1x").is_err());
        assert!(parse("10").is_err());
        assert!(parse("-1m").is_err());
    }

    #[test]
    fn iso_forms() {
        assert_eq!(parse("PT1M"), Ok(60));
        assert_eq!(parse("PT1M30S"), Ok(90));
        assert_eq!(parse("P1DT1H"), Ok(90_000));
        assert!(parse("PT").is_err());
        assert!(parse("P1H").is_err());
        assert!(parse("PT1S1M").is_err());
    }

    #[test]
    fn round_trip() {
        for s in [1, 59, 60, 61, 3600, 3661, 86_400, 90_061] {
            assert_eq!(parse(&to_iso(s)), Ok(s));
        }
        assert_eq!(to_iso(60), "PT1M");
    }
}
