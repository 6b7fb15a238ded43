//! Text from a remote party (a provider's error message, a server's error body), made safe to show to a
//! person or a log: the one rule of docs/contract.md section 1 for the token function and for the client.

/// Shortest run of the key that is never repeated back: a remote that quotes the key, or part of it (a
/// prefix, an id glued to a secret), must not turn an error message into a leak.
pub const KEY_RUN: usize = 8;

/// `text` as it may be shown: control and format characters (which show nothing or rearrange what is shown)
/// dropped, [`redact`]ed, at most `max_chars` characters. Bounded before the redaction too, whose cost grows
/// with the text.
pub fn shown(text: &str, key: &str, max_chars: usize) -> String {
    let text: String = (text.chars().filter(|&c| !is_invisible(c)))
        .take(max_chars.saturating_mul(4))
        .collect();
    redact(&text, key).chars().take(max_chars).collect()
}

/// `text` with every stretch that shares a run of [`KEY_RUN`] characters with `key` (or, for a shorter key,
/// the whole key) replaced by `[redacted]`. Only the text's printable ASCII characters, a key's only ones, are
/// compared, without their case: whatever stands between them (spaces, combining marks, variation selectors,
/// fillers, any character that shows nothing) cannot split a run, and a remote that upper-cases what it quotes
/// still quotes the key. An empty key redacts nothing.
pub fn redact(text: &str, key: &str) -> String {
    let fold = |c: char| c.is_ascii_graphic().then(|| c.to_ascii_lowercase() as u8);
    let key: Vec<u8> = key.chars().filter_map(fold).collect();
    let (folded, starts): (Vec<u8>, Vec<usize>) = (text.char_indices())
        .filter_map(|(at, c)| Some((fold(c)?, at)))
        .unzip();
    let run = KEY_RUN.min(key.len());
    if run == 0 || folded.len() < run {
        return text.to_owned();
    }
    // Every byte of `text` from the first to the last character of a run the key also has.
    let mut covered = vec![false; text.len()];
    for window in key.windows(run) {
        let mut from = 0;
        while let Some(at) = folded[from..].windows(run).position(|w| w == window) {
            covered[starts[from + at]..=starts[from + at + run - 1]].fill(true);
            from += at + 1;
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for (at, ch) in text.char_indices() {
        if covered[at] && !in_run {
            out.push_str("[redacted]");
        } else if !covered[at] {
            out.push(ch);
        }
        in_run = covered[at];
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
    fn characters_that_show_nothing_split_no_run() {
        for separator in [
            "\u{fe0f}",
            "\u{e0100}",
            "\u{34f}",
            "\u{301}",
            "\u{3164}",
            "\u{2800}",
            " ",
        ] {
            let message = KEY
                .chars()
                .map(String::from)
                .collect::<Vec<_>>()
                .join(separator);
            assert_eq!(
                shown(&format!("bad key {message}!"), KEY, 300),
                "bad key [redacted]!"
            );
        }
    }

    #[test]
    fn what_is_shown_is_bounded_before_and_after_the_redaction() {
        assert_eq!(shown(&"x".repeat(10_000), KEY, 300).chars().count(), 300);
        // Only the first 4 × 300 characters are redacted, so what follows them is never reached.
        assert_eq!(
            shown(&format!("{}tail", KEY.repeat(100)), KEY, 300),
            "[redacted]"
        );
    }
}
