//! Deterministic ids, a tiny PRNG and the sandbox clock's timestamp format.
//! (`rand` is not a dependency; splitmix64 is enough for ids and fault dice.)

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The splitmix64 finaliser: a bijection on u64, so distinct inputs give distinct outputs.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A UUID-shaped id for sequence number `seq` under `salt`. The first 64 bits are a
/// bijection of `salt ^ seq`, so ids of one salt never collide.
pub fn uuid_like(salt: u64, seq: u64) -> String {
    let hi = mix64(salt ^ seq);
    let lo = mix64(hi ^ salt.rotate_left(17));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// A uniform float in [0, 1) from 64 random bits.
pub fn unit_f64(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    let now = OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// RFC 3339 UTC with exactly three fractional digits, as Genesys writes `dateModified`.
pub fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    match OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => {
            // Format the whole seconds, then splice in the milliseconds: `time`'s
            // well-known RFC 3339 format drops trailing zero fractions.
            let base = t.format(&Rfc3339).unwrap_or_default();
            let base = base.trim_end_matches('Z');
            format!("{base}.{millis:03}Z")
        }
        Err(_) => "1970-01-01T00:00:00.000Z".to_string(),
    }
}

/// Parses a timestamp written by [`format_ms`].
#[cfg(test)]
pub fn parse_ms(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_milliseconds_and_round_trip() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            parse_ms("2023-11-14T22:13:20.123Z"),
            Some(1_700_000_000_123)
        );
    }

    #[test]
    fn ids_are_distinct_and_uuid_shaped() {
        let a = uuid_like(7, 1);
        let b = uuid_like(7, 2);
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }
}
