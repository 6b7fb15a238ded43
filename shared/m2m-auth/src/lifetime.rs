//! When a token that is kept for reuse should be replaced: the one rule the token function's cache of
//! exchanged tokens and the calling side's token source (`m2m-client`) both follow.

/// The least time a kept token still has to live when it is handed out.
pub const MIN_REMAINING_SECONDS: i64 = 60;
/// The share of its lifetime (in percent) a kept token still has to live when it is handed out.
pub const MIN_REMAINING_PERCENT: i64 = 20;

/// The instant (unix seconds) from which a token issued at `issued_at` and expiring at `expires_at` is no
/// longer handed out: `exp − max(60 s, 20% of its lifetime)`, so that whoever receives it has at least a
/// minute, or a fifth of its life, to use it. A token without a lifetime (`exp <= iat`) is stale at once.
pub fn renew_at(issued_at: i64, expires_at: i64) -> i64 {
    let lifetime = expires_at.saturating_sub(issued_at);
    if lifetime <= 0 {
        return issued_at.min(expires_at);
    }
    let margin = (lifetime.saturating_mul(MIN_REMAINING_PERCENT) / 100).max(MIN_REMAINING_SECONDS);
    expires_at.saturating_sub(margin)
}

#[cfg(test)]
mod tests {
    use super::renew_at;

    #[test]
    fn a_kept_token_keeps_a_minute_or_a_fifth_of_its_life() {
        // Ten minutes: a fifth is two minutes.
        assert_eq!(renew_at(1_000, 1_600), 1_480);
        // Two minutes: a fifth is 24 s, so the minute wins.
        assert_eq!(renew_at(1_000, 1_120), 1_060);
        // Shorter than a minute: stale from the start.
        assert!(renew_at(1_000, 1_030) <= 1_000);
        // No lifetime at all, or a reversed one.
        assert_eq!(renew_at(1_000, 1_000), 1_000);
        assert_eq!(renew_at(1_000, 900), 900);
        // No overflow at the extremes.
        assert!(renew_at(i64::MIN, i64::MAX) < i64::MAX);
    }
}
