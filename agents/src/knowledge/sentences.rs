//! Sentences of a text, and how much of a question each one answers: the
//! pieces extractive answers (chat without a model) and extractive
//! summaries are made of. Nothing here invents text: a [`Sentence`] is a
//! slice of its source, with its offsets into it.
//!
//! Splitting is modest, rule-based and language-light: `.`, `!`, `?`, `…`
//! (and `。！？`) end a sentence when whitespace or the end follows; a `.`
//! after a known abbreviation (`Dr.`, `e.g.`, `Jan.`), a single initial
//! (`J. Smith`), or before a lower-case word (`approx. two`) does not. A
//! blank line, a bullet or numbered item, and a line break ends one too,
//! unless the break only wraps a line (a lower-case word or a comma before
//! it and a lower-case word after it). Bullet markers are left out of the
//! sentence; runs longer than [`MAX_SENTENCE_CHARS`] are cut at a space.
//!
//! Relevance is term overlap: the share of a question's terms a sentence
//! holds. Terms are lower-cased runs of letters and digits, English stop
//! words left out, plurals folded (`days` → `day`, `policies` →
//! `policy`), and a term of four or more characters matches a word it
//! begins that is at most four characters longer (`return` matches
//! `returned`, `ship` matches `shipping`).

/// Longest sentence kept whole, in characters; a longer run without an end
/// (a table row, a list without punctuation) is cut at the last space
/// before it.
pub const MAX_SENTENCE_CHARS: usize = 500;

/// One sentence of a text, with where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sentence<'a> {
    /// Its text as the source has it, trimmed, without a leading bullet.
    pub text: &'a str,
    /// Offset of its first character in the source, in Unicode scalar values.
    pub char_start: usize,
    /// Offset one past its last character, in Unicode scalar values.
    pub char_end: usize,
}

/// Words a `.` after which does not end a sentence (lower case, inner dots
/// kept: `e.g`); sorted, for a binary search.
const ABBREVIATIONS: &[&str] = &[
    "a.m", "al", "approx", "apr", "aug", "ave", "ca", "cf", "co", "corp", "dec", "dept", "dr", "e.g", "est", "feb",
    "fig", "figs", "i.e", "inc", "jan", "jr", "jul", "jun", "ltd", "mr", "mrs", "ms", "no", "nos", "nov", "oct", "p",
    "p.m", "pp", "prof", "rd", "sep", "sept", "sr", "st", "u.k", "u.s", "vol", "vs",
];

/// English words too common to say what a sentence is about (lower case,
/// contractions cut at the apostrophe: `don't` → `don`); sorted.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "aren",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "couldn",
    "did",
    "didn",
    "do",
    "does",
    "doesn",
    "doing",
    "don",
    "down",
    "during",
    "each",
    "else",
    "ever",
    "few",
    "for",
    "from",
    "further",
    "get",
    "got",
    "had",
    "hadn",
    "has",
    "hasn",
    "have",
    "haven",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "isn",
    "it",
    "its",
    "itself",
    "just",
    "let",
    "like",
    "many",
    "may",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "please",
    "same",
    "shall",
    "she",
    "should",
    "shouldn",
    "so",
    "some",
    "such",
    "tell",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "us",
    "very",
    "was",
    "wasn",
    "we",
    "were",
    "weren",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "won",
    "would",
    "wouldn",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// Whether `word` (lower case) is an English stop word.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// The sentences of `text`, in order, none empty (each has a letter).
pub fn split(text: &str) -> Vec<Sentence<'_>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut sentences = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        if let Some(end) = boundary(&chars, i) {
            emit(text, &chars, start, end, &mut sentences);
            start = end;
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    emit(text, &chars, start, chars.len(), &mut sentences);
    sentences
}

/// Where the sentence that `chars[i]` may end, ends (exclusive).
fn boundary(chars: &[(usize, char)], i: usize) -> Option<usize> {
    let c = chars[i].1;
    match c {
        '。' | '！' | '？' => Some(after_closers(chars, i + 1)),
        '.' | '!' | '?' | '…' => {
            let end = after_closers(chars, i + 1);
            if end < chars.len() && !chars[end].1.is_whitespace() {
                return None; // 3.50, e.g.,, shop.com, ?!x
            }
            if matches!(c, '.' | '…') && (next_word_is_lowercase(chars, end) || c == '.' && abbreviated(chars, i)) {
                return None;
            }
            Some(end)
        }
        '\n' => line_break(chars, i).then_some(i),
        _ => None,
    }
}

/// Past further end punctuation and closing quotes or brackets.
fn after_closers(chars: &[(usize, char)], mut j: usize) -> usize {
    while j < chars.len() && matches!(chars[j].1, '.' | '!' | '?' | '…' | '"' | '\'' | '”' | '’' | ')' | ']' | '»')
    {
        j += 1;
    }
    j
}

/// The first non-blank character from `j` on is a lower-case letter.
fn next_word_is_lowercase(chars: &[(usize, char)], j: usize) -> bool {
    chars[j..].iter().map(|&(_, c)| c).find(|c| !c.is_whitespace()).is_some_and(char::is_lowercase)
}

/// The word before the `.` at `i` is an abbreviation, a single initial, or
/// the number of a numbered list item (nothing but blanks before it on its
/// line).
fn abbreviated(chars: &[(usize, char)], i: usize) -> bool {
    let mut k = i;
    while k > 0 && (chars[k - 1].1.is_alphanumeric() || chars[k - 1].1 == '.') {
        k -= 1;
    }
    let word: String = chars[k..i].iter().map(|&(_, c)| c).collect();
    if word.is_empty() {
        return false;
    }
    let lower = word.to_lowercase();
    if ABBREVIATIONS.binary_search(&lower.as_str()).is_ok() {
        return true;
    }
    let mut letters = word.chars();
    if letters.next().is_some_and(char::is_uppercase) && letters.next().is_none() {
        return true;
    }
    let line_start = chars[..k].iter().rev().take_while(|&&(_, c)| c != '\n').all(|&(_, c)| c.is_whitespace());
    word.len() <= 3 && word.chars().all(|c| c.is_ascii_digit()) && line_start
}

/// Whether the line break at `i` ends a sentence: always before a blank
/// line or a bullet, never inside a wrapped line.
fn line_break(chars: &[(usize, char)], i: usize) -> bool {
    let mut j = i + 1;
    while j < chars.len() && matches!(chars[j].1, ' ' | '\t' | '\r') {
        j += 1;
    }
    let Some(&(_, next)) = chars.get(j) else { return true };
    if next == '\n' || bullet_len(&chars[j..]) > 0 {
        return true;
    }
    let before = chars[..i].iter().rev().map(|&(_, c)| c).find(|&c| !matches!(c, ' ' | '\t' | '\r'));
    let wraps = before.is_some_and(|c| c.is_lowercase() || c == ',') && next.is_lowercase();
    !wraps
}

/// Characters of a bullet or list-item marker at the start of `chars`
/// (`- `, `* `, `• `, `1. `, `2) `), 0 for none.
fn bullet_len(chars: &[(usize, char)]) -> usize {
    let at = |k: usize| chars.get(k).map(|&(_, c)| c);
    if matches!(at(0), Some('-' | '*' | '+' | '•' | '·' | '–' | '▪' | '◦')) && at(1).is_some_and(char::is_whitespace)
    {
        return 1;
    }
    let digits = chars.iter().take(4).take_while(|&&(_, c)| c.is_ascii_digit()).count();
    if (1..=3).contains(&digits)
        && matches!(at(digits), Some('.' | ')'))
        && at(digits + 1).is_some_and(char::is_whitespace)
    {
        return digits + 1;
    }
    0
}

/// Pushes `chars[from..to]`, trimmed and without a bullet, as sentences
/// (cut to [`MAX_SENTENCE_CHARS`]) if it holds a letter.
fn emit<'a>(text: &'a str, chars: &[(usize, char)], from: usize, to: usize, into: &mut Vec<Sentence<'a>>) {
    let (mut from, mut to) = (from, to);
    let skip_blank = |from: &mut usize, to: usize| {
        while *from < to && chars[*from].1.is_whitespace() {
            *from += 1;
        }
    };
    skip_blank(&mut from, to);
    let marker = bullet_len(&chars[from..to]);
    if marker > 0 {
        from += marker;
        skip_blank(&mut from, to);
    }
    while to > from && chars[to - 1].1.is_whitespace() {
        to -= 1;
    }
    while to - from > MAX_SENTENCE_CHARS {
        let limit = from + MAX_SENTENCE_CHARS;
        let cut = (from + 1..limit).rev().find(|&k| chars[k].1.is_whitespace()).unwrap_or(limit);
        push(text, chars, from, cut, into);
        from = cut;
        skip_blank(&mut from, to);
    }
    push(text, chars, from, to, into);
}

fn push<'a>(text: &'a str, chars: &[(usize, char)], from: usize, to: usize, into: &mut Vec<Sentence<'a>>) {
    let mut to = to;
    while to > from && chars[to - 1].1.is_whitespace() {
        to -= 1;
    }
    if from >= to || !chars[from..to].iter().any(|&(_, c)| c.is_alphabetic()) {
        return;
    }
    let byte_start = chars[from].0;
    let byte_end = chars.get(to).map_or(text.len(), |&(b, _)| b);
    if let Some(slice) = text.get(byte_start..byte_end) {
        into.push(Sentence { text: slice, char_start: from, char_end: to });
    }
}

/// The lower-cased words of `text`: runs of letters and digits, an
/// apostrophe and what follows it in a word left out (`don't` → `don`,
/// `item's` → `item`).
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut chars = text.chars().peekable();
    std::iter::from_fn(move || {
        loop {
            let c = chars.next()?;
            if !c.is_alphanumeric() {
                continue;
            }
            let mut word: String = c.to_lowercase().collect();
            let mut cut = false;
            while let Some(&next) = chars.peek() {
                if next.is_alphanumeric() {
                    if !cut {
                        word.extend(next.to_lowercase());
                    }
                    chars.next();
                } else if matches!(next, '\'' | '’') && !cut {
                    cut = true;
                    chars.next();
                } else {
                    break;
                }
            }
            return Some(word);
        }
    })
}

/// `word` with an English plural folded: `policies` → `policy`, `days` →
/// `day`; `glass`, `status` and `analysis` stay.
fn fold(word: &str) -> String {
    let count = word.chars().count();
    if count > 4 && word.ends_with("ies") {
        return format!("{}y", &word[..word.len() - 3]);
    }
    if count > 3 && word.ends_with('s') && !word.ends_with("ss") && !word.ends_with("us") && !word.ends_with("is") {
        return word[..word.len() - 1].to_owned();
    }
    word.to_owned()
}

/// A word that says something: not a stop word, not a lone letter.
fn telling(word: &str) -> bool {
    let mut chars = word.chars();
    let single_letter = chars.next().is_some_and(char::is_alphabetic) && chars.next().is_none();
    !single_letter && !is_stop_word(word)
}

/// The terms of `text`: its telling words with plurals folded, each once,
/// in order of first appearance.
pub fn terms(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for word in words(text).filter(|w| telling(w)) {
        let term = fold(&word);
        if !found.contains(&term) {
            found.push(term);
        }
    }
    found
}

/// The telling words of `text` as written (lower case, plurals not
/// folded), each once, in order: for a search engine that matches words
/// exactly, as the full-text engines here do.
pub fn keywords(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for word in words(text).filter(|w| telling(w)) {
        if !found.contains(&word) {
            found.push(word);
        }
    }
    found
}

/// Whether the query term `term` is the sentence's `word`, or begins it
/// and is long enough to (`return` → `returned`, `returning`).
fn term_matches(term: &str, word: &str) -> bool {
    if term == word {
        return true;
    }
    let (term_chars, word_chars) = (term.chars().count(), word.chars().count());
    let (short, long, short_chars, long_chars) = if term_chars <= word_chars {
        (term, word, term_chars, word_chars)
    } else {
        (word, term, word_chars, term_chars)
    };
    short_chars >= 4 && long_chars - short_chars <= 4 && long.starts_with(short)
}

/// The share of the distinct `query_terms` (stop words ignored, plurals
/// folded, so [`terms`]' output and raw words both do) that `sentence`
/// holds: 0.0 (none, or no query terms) to 1.0 (all).
pub fn relevance(query_terms: &[String], sentence: &str) -> f64 {
    let mut wanted: Vec<String> = Vec::new();
    for term in query_terms.iter().flat_map(|t| words(t).collect::<Vec<_>>()) {
        let term = fold(&term);
        if telling(&term) && !wanted.contains(&term) {
            wanted.push(term);
        }
    }
    if wanted.is_empty() {
        return 0.0;
    }
    let held: Vec<String> = words(sentence).map(|w| fold(&w)).collect();
    let matched = wanted.iter().filter(|term| held.iter().any(|word| term_matches(term, word))).count();
    matched as f64 / wanted.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<&str> {
        split(text).into_iter().map(|s| s.text).collect()
    }

    /// Every sentence is the slice of the source its offsets name.
    fn offsets_hold(text: &str) {
        for sentence in split(text) {
            let by_offsets: String =
                text.chars().skip(sentence.char_start).take(sentence.char_end - sentence.char_start).collect();
            assert_eq!(by_offsets, sentence.text, "{text:?}");
        }
    }

    #[test]
    fn word_lists_are_sorted_for_their_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(ABBREVIATIONS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn sentences_end_at_their_punctuation() {
        let text = "Items can be returned within 30 days. Are they refunded? Yes! In full…  Always.";
        assert_eq!(
            texts(text),
            ["Items can be returned within 30 days.", "Are they refunded?", "Yes!", "In full…", "Always."]
        );
        offsets_hold(text);
        assert_eq!(texts("He said \"Stop.\" Then left."), ["He said \"Stop.\"", "Then left."]);
        assert_eq!(texts("返品は30日以内です。送料は無料です。"), ["返品は30日以内です。", "送料は無料です。"]);
    }

    #[test]
    fn abbreviations_decimals_and_initials_do_not_end_a_sentence() {
        assert_eq!(
            texts("Call Dr. Smith at 5 p.m. today, e.g. after lunch. It costs $3.50 at shop.example. J. Doe agrees."),
            ["Call Dr. Smith at 5 p.m. today, e.g. after lunch.", "It costs $3.50 at shop.example.", "J. Doe agrees."]
        );
        assert_eq!(
            texts("Ships approx. two days after Jan. 5 each year."),
            ["Ships approx. two days after Jan. 5 each year."]
        );
    }

    #[test]
    fn lines_and_bullets_are_boundaries_and_wrapped_lines_are_not() {
        let text = "Return policy\nItems can be returned within\nthirty days of delivery.\n- Unworn items only\n* Tags attached\n\n1. Pack the item\n2) Print the label";
        assert_eq!(
            texts(text),
            [
                "Return policy",
                "Items can be returned within\nthirty days of delivery.",
                "Unworn items only",
                "Tags attached",
                "Pack the item",
                "Print the label"
            ]
        );
        offsets_hold(text);
    }

    #[test]
    fn no_sentence_is_empty() {
        assert!(split("").is_empty());
        assert!(split("  \n\n ... !! ?\n- \n* \n12.\n").is_empty());
        for sentence in split("A.\n\n\nB. c. D\n-\n•  Ok") {
            assert!(sentence.text.chars().any(char::is_alphabetic), "{sentence:?}");
            assert_eq!(sentence.text, sentence.text.trim());
        }
    }

    #[test]
    fn offsets_count_characters_not_bytes() {
        let text = "Café ouvert à 9 h. Über alles! ça va.";
        let found = split(text);
        assert_eq!(found.iter().map(|s| s.text).collect::<Vec<_>>(), ["Café ouvert à 9 h.", "Über alles!", "ça va."]);
        assert_eq!((found[1].char_start, found[1].char_end), (19, 30));
        offsets_hold(text);
    }

    #[test]
    fn long_runs_are_cut_at_a_space() {
        let text = "word ".repeat(400);
        let found = split(&text);
        assert!(found.len() >= 4, "{}", found.len());
        assert!(found.iter().all(|s| s.char_end - s.char_start <= MAX_SENTENCE_CHARS));
        assert!(found.iter().all(|s| !s.text.starts_with(' ') && !s.text.ends_with(' ')));
        offsets_hold(&text);
    }

    #[test]
    fn terms_skip_stop_words_and_fold_plurals() {
        assert_eq!(terms("How many days do I have to return an item?"), ["day", "return", "item"]);
        assert_eq!(terms("Don't the policies' items' status?"), ["policy", "item", "status"]);
        assert_eq!(terms("the a of"), Vec::<String>::new());
        assert_eq!(keywords("How many DAYS, days or weeks?"), ["days", "weeks"]);
    }

    #[test]
    fn relevance_is_the_share_of_query_terms_held() {
        let query = terms("How many days do I have to return an item?");
        let sentence = "Items can be returned within 30 days of delivery.";
        assert!((relevance(&query, sentence) - 1.0).abs() < 1e-9);
        assert!((relevance(&query, "Returns are free.") - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(relevance(&query, "Wash cold and dry flat."), 0.0);
        assert_eq!(relevance(&[], sentence), 0.0);
        assert_eq!(relevance(&["the".to_owned(), "of".to_owned()], sentence), 0.0);
        // Raw words do as well as terms, stop words and plurals aside.
        let raw = vec!["Days".to_owned(), "the".to_owned()];
        assert!((relevance(&raw, sentence) - 1.0).abs() < 1e-9);
        // Short terms match whole words only; long ones words they begin.
        assert_eq!(relevance(&["art".to_owned()], "A party."), 0.0);
        assert!((relevance(&["ship".to_owned()], "Free shipping.") - 1.0).abs() < 1e-9);
        assert_eq!(relevance(&["ship".to_owned()], "Shipwreckedness."), 0.0);
    }
}
