//! Text from a remote party (a provider's error message, a server's error body), made safe to show to a
//! person or a log: the one rule of docs/contract.md section 1 for the token function and for the client.

/// Shortest run of the key that is never repeated back: a remote that quotes the key, or part of it (a
/// prefix, an id glued to a secret), must not turn an error message into a leak.
pub const KEY_RUN: usize = 8;

/// `text` as it may be shown: control and format characters dropped first (a zero-width space between two
/// characters of the key would otherwise split every run [`redact`] looks for), then redacted, at most
/// `max_chars` characters. Bounded before the redaction too, whose cost grows with the text.
pub fn shown(text: &str, key: &str, max_chars: usize) -> String {
    let text: String = (text.chars().filter(|&c| !is_invisible(c)))
        .take(max_chars.saturating_mul(4))
        .collect();
    redact(&text, key).chars().take(max_chars).collect()
}

/// `text` with every stretch that shares a run of [`KEY_RUN`] bytes with `key` (or, for a shorter key, the
/// whole key) replaced by `[redacted]`, letters compared without their case (a remote that upper-cases what it
/// quotes still quotes the key; keys are ASCII, so ASCII folding keeps every byte in its place). An empty key
/// redacts nothing.
pub fn redact(text: &str, key: &str) -> String {
    let (folded_text, folded_key) = (text.to_ascii_lowercase(), key.to_ascii_lowercase());
    let (text_bytes, key_bytes) = (folded_text.as_bytes(), folded_key.as_bytes());
    let run = KEY_RUN.min(key_bytes.len());
    if run == 0 || text_bytes.len() < run {
        return text.to_owned();
    }
    let mut covered = vec![false; text_bytes.len()];
    for window in key_bytes.windows(run) {
        let mut from = 0;
        while let Some(at) = text_bytes[from..].windows(run).position(|w| w == window) {
            covered[from + at..from + at + run].fill(true);
            from += at + 1;
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for (index, ch) in text.char_indices() {
        let hidden = covered[index..index + ch.len_utf8()].contains(&true);
        if hidden && !in_run {
            out.push_str("[redacted]");
        } else if !hidden {
            out.push(ch);
        }
        in_run = hidden;
    }
    out
}

/// Control characters (Cc) and format characters (Cf: zero-width spaces and joiners, bidirectional marks,
/// soft hyphens), which show nothing or rearrange what is shown.
fn is_invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    c.is_control() || c.general_category() == GeneralCategory::Format
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "K2abcdefgh:0123456789secret";

    #[test]
    fn no_run_of_eight_characters_of_the_key_comes_back() {
        for message in [
            format!("key {KEY} is invalid"),
            "key K2abcdefgh is unknown".to_owned(),
            "prefix 0123456789 not found".to_owned(),
            format!("twice {KEY}{KEY} glued"),
            "K2abcdef then 89secret".to_owned(),
        ] {
            let shown = shown(&message, KEY, 300);
            for start in 0..=KEY.len() - KEY_RUN {
                assert!(
                    !shown.contains(&KEY[start..start + KEY_RUN]),
                    "{message} -> {shown}"
                );
            }
            assert!(shown.contains("[redacted]"), "{message} -> {shown}");
        }
        // Seven characters of the key are just text (a word of the message may share them by chance).
        assert_eq!(redact("K2abcde is fine", KEY), "K2abcde is fine");
        // A key shorter than the run is hidden whole; no key hides nothing.
        assert_eq!(redact("bad key abc!", "abc"), "bad key [redacted]!");
        assert_eq!(redact("bad key abc!", ""), "bad key abc!");
        assert_eq!(redact("ünïcode K2abcdefgh", KEY), "ünïcode [redacted]");
    }

    #[test]
    fn invisible_characters_and_case_hide_no_part_of_the_key() {
        let interleave = |separator: &str| {
            KEY.chars()
                .map(|c| format!("{c}{separator}"))
                .collect::<String>()
        };
        for message in [
            format!("bad key {}", interleave("\u{0}")),
            format!("bad key {}", interleave("\u{7}")),
            format!("bad key {}", interleave("\u{200b}")),
            format!("bad key {}", interleave("\u{200d}\u{2060}")),
            format!("bad key {}", interleave("\u{ad}")),
            format!("bad key {}", interleave("\u{202e}")),
            format!("bad key {}", interleave("\u{feff}")),
            format!("bad key {}", KEY.to_ascii_uppercase()),
            format!("bad key {}", interleave("\u{200b}").to_ascii_uppercase()),
        ] {
            assert_eq!(
                shown(&message, KEY, 300),
                "bad key [redacted]",
                "{message:?}"
            );
        }
        // What is visible stays as it was.
        assert_eq!(
            shown("Ünïcode stays, tabs\tgo", KEY, 300),
            "Ünïcode stays, tabsgo"
        );
    }

    #[test]
    fn what_is_shown_is_bounded_before_and_after_the_redaction() {
        assert_eq!(shown(&"x".repeat(10_000), KEY, 300).chars().count(), 300);
        // A long text costs what its first 4 × 300 characters cost, not what all of it would.
        let huge = format!("{}{KEY}", "y".repeat(5_000_000));
        assert_eq!(shown(&huge, KEY, 300), "y".repeat(300));
    }
}
