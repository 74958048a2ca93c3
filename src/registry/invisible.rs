//! Characters a reader cannot see. Names and texts reach the public subprocessor page, emails
//! and spreadsheets; a character that renders as nothing there (a word joiner, a direction
//! mark, a soft hyphen, a Hangul filler, a tag character) makes "Stripe" and "Str\u{2060}ipe"
//! two different names that read the same, or hides text from the person reading it (Unicode
//! Technical Standard #39, Security Mechanisms; "Trojan Source", CVE-2021-42574).
//!
//! The rule: a name or a text may hold no Default_Ignorable_Code_Point character (Unicode,
//! DerivedCoreProperties.txt; read from ICU4X's data, already compiled in for URL handling),
//! nor a line or paragraph separator (U+2028, U+2029) or the blank Braille pattern (U+2800),
//! which are not default-ignorable but show as nothing. Two exceptions, because scripts need
//! them and where they are needed they change how the word is drawn, so a reader sees them:
//! - the zero-width non-joiner and joiner (U+200C, U+200D) in the contexts IDNA allows them
//!   (RFC 5892 Appendix A.1 and A.2, CONTEXTJ): after a virama (Devanagari "क्‍ष"), and the
//!   non-joiner between two letters that would otherwise join (Persian "می‌خواهم");
//! - in free texts (not names), the bidi isolates U+2066-U+2069, balanced, as the Unicode
//!   Bidirectional Algorithm (UAX #9) recommends for setting a right-to-left passage apart:
//!   they affect only the text between them.

use icu_properties::props::{CanonicalCombiningClass, DefaultIgnorableCodePoint, JoiningType};
use icu_properties::{CodePointMapData, CodePointSetData};

const ZWNJ: char = '\u{200C}';
const ZWJ: char = '\u{200D}';
const PDI: char = '\u{2069}';

/// Not default-ignorable, but drawn as nothing.
fn blank(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{2800}')
}

fn isolate_opener(c: char) -> bool {
    matches!(c, '\u{2066}'..='\u{2068}')
}

/// Whether a zero-width (non-)joiner at `at` in `chars` is where RFC 5892's CONTEXTJ rules
/// allow it.
fn joiner_in_context(chars: &[char], at: usize) -> bool {
    let ccc = CodePointMapData::<CanonicalCombiningClass>::new();
    if at > 0 && ccc.get(chars[at - 1]) == CanonicalCombiningClass::Virama {
        return true;
    }
    if chars[at] != ZWNJ {
        return false;
    }
    // (Joining_Type:{L,D})(Joining_Type:T)* ZWNJ (Joining_Type:T)*(Joining_Type:{R,D})
    let joining = CodePointMapData::<JoiningType>::new();
    let first_non_transparent = |mut it: Box<dyn Iterator<Item = &char> + '_>| {
        it.find(|c| joining.get(**c) != JoiningType::Transparent)
            .map(|c| joining.get(*c))
    };
    let before = first_non_transparent(Box::new(chars[..at].iter().rev()));
    let after = first_non_transparent(Box::new(chars[at + 1..].iter()));
    matches!(
        before,
        Some(JoiningType::LeftJoining | JoiningType::DualJoining)
    ) && matches!(
        after,
        Some(JoiningType::RightJoining | JoiningType::DualJoining)
    )
}

/// The first character of `text` a reader would not see, with its position (counted in
/// characters, from 1). `isolates`: whether balanced bidi isolates are allowed (free texts).
pub fn first_invisible(text: &str, isolates: bool) -> Option<(usize, char)> {
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    let chars: Vec<char> = text.chars().collect();
    let mut open: Vec<usize> = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        let refused = if c == ZWNJ || c == ZWJ {
            !joiner_in_context(&chars, i)
        } else if isolates && isolate_opener(c) {
            open.push(i);
            false
        } else if isolates && c == PDI {
            open.pop().is_none()
        } else {
            ignorable.contains(c) || blank(c)
        };
        if refused {
            return Some((i + 1, c));
        }
    }
    open.first().map(|&i| (i + 1, chars[i]))
}

/// The refusal's message for a character found by [`first_invisible`].
pub fn refusal((position, c): (usize, char), isolates: bool) -> String {
    let isolate_hint = if isolates {
        "; to set a right-to-left passage apart, enclose it in a bidi isolate (U+2066-U+2068) closed by U+2069"
    } else {
        ""
    };
    format!(
        "must not contain characters a reader cannot see: U+{:04X} at character {position} (default-ignorable, direction or formatting marks, fillers and separators hide in a name or a text and make it read as something else){isolate_hint}",
        c as u32
    )
}

#[cfg(test)]
mod tests {
    use super::first_invisible;

    #[test]
    fn what_a_reader_cannot_see_is_found() {
        for (text, at) in [
            ("Str\u{2060}ipe", 4),      // word joiner
            ("Stripe\u{200E}", 7),      // left-to-right mark
            ("\u{200F}Stripe", 1),      // right-to-left mark
            ("a\u{061C}b", 2),          // Arabic letter mark
            ("Soft\u{00AD}hyphen", 5),  // soft hyphen
            ("\u{3164}", 1),            // Hangul filler
            ("x\u{E0041}\u{E007F}", 2), // tag characters
            ("Str\u{200B}ipe", 4),      // zero-width space
            ("a\u{202E}b", 2),          // right-to-left override
            ("a\u{FEFF}", 2),           // byte-order mark
            ("a\u{2028}b", 2),          // line separator
            ("\u{2800}", 1),            // blank Braille pattern
            ("e\u{FE0F}", 2),           // variation selector
            ("a\u{200D}b", 2),          // a joiner with nothing to join
            ("a\u{200C}b", 2),          // a non-joiner between Latin letters
        ] {
            assert_eq!(
                first_invisible(text, false).map(|(i, _)| i),
                Some(at),
                "{text:?}"
            );
        }
    }

    #[test]
    fn scripts_keep_the_joiners_they_need() {
        // Devanagari ksha with an explicit half form: virama + ZWJ.
        assert_eq!(
            first_invisible("\u{0915}\u{094D}\u{200D}\u{0937}", false),
            None
        );
        // Persian "mi-khaham": the non-joiner between two joining letters.
        assert_eq!(
            first_invisible(
                "\u{0645}\u{06CC}\u{200C}\u{062E}\u{0648}\u{0627}\u{0647}\u{0645}",
                false
            ),
            None
        );
        // Hebrew and Latin need no mark to be written.
        assert_eq!(first_invisible("\u{05D0}\u{05D1} Ltd", false), None);
    }

    #[test]
    fn free_texts_may_set_a_right_to_left_passage_apart() {
        let passage = "named \u{2067}\u{05D0}\u{05D1}\u{2069} here";
        assert_eq!(first_invisible(passage, true), None);
        assert_eq!(first_invisible(passage, false).map(|(i, _)| i), Some(7));
        // Unbalanced isolates leak into the text around them.
        assert_eq!(first_invisible("a\u{2067}b", true).map(|(i, _)| i), Some(2));
        assert_eq!(first_invisible("a\u{2069}b", true).map(|(i, _)| i), Some(2));
    }
}
