//! Text from files, chains and operators, made safe to print: every control character but the
//! newline, and every bidirectional-override character (which can make a terminal or a review
//! tool show text in another order than it is), escaped as Rust's `escape_default` does: `\u{1b}`,
//! `\r`, `\t`.

/// The bidirectional formatting characters (Unicode TR9): embeddings, overrides, isolates, marks.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with control and bidi characters escaped; line breaks stay.
pub(crate) fn printable(text: &str) -> String {
    if !text
        .chars()
        .any(|c| (c.is_control() && c != '\n') || is_bidi_control(c))
    {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if (c.is_control() && c != '\n') || is_bidi_control(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_overrides_are_escaped_and_newlines_kept() {
        assert_eq!(
            printable("a\u{1b}[2J\u{7}\u{0}b"),
            "a\\u{1b}[2J\\u{7}\\u{0}b"
        );
        assert_eq!(printable("x\u{202e}y\nz"), "x\\u{202e}y\nz");
        assert_eq!(printable("plain"), "plain");
    }
}
