//! Which of the account's datasets a question names. A dataset is named by
//! its own name or by its file's name, ignoring case, with or without the
//! file's extension ("spend.csv", "spend"), as whole words (`spend` is not
//! named by "spending"). Where two datasets' names overlap in the question
//! ("spend" and "spend 2025"), the longer mention wins. At most
//! [`MAX_NAMED`] datasets are taken, in the order the question names them.
//!
//! A name shorter than three characters names nothing (too many words
//! would match). A file name's stem alone that is also a word of the
//! store's own vocabulary ("sales" of `sales.csv`, "orders", "data") names
//! nothing either: "how did sales develop?" asks about the store; the
//! merchant names that file as `sales.csv`, or by the dataset's own name,
//! which always counts as given.

use uuid::Uuid;

/// Most datasets one question is answered from.
pub const MAX_NAMED: usize = 3;
/// Fewest characters of a name that can name a dataset.
const MIN_CHARS: usize = 3;
/// Longest extension a file name's stem is cut from.
const MAX_EXTENSION_CHARS: usize = 8;
/// File-name stems that, alone, say something about the store instead.
const GENERIC_STEMS: &[&str] = &[
    "data",
    "dataset",
    "datasets",
    "file",
    "export",
    "report",
    "upload",
    "sales",
    "orders",
    "revenue",
    "products",
    "customers",
    "inventory",
    "stock",
    "refunds",
    "discounts",
];
/// Words about the upload itself, taken out with the mentions: "my
/// uploaded spend.csv" asks about the table, not about a document.
const UPLOAD_WORDS: &[&str] = &["uploaded", "upload", "spreadsheet", "exported"];

/// A dataset's names and its columns' names, as planning matches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetName {
    /// The dataset.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its file's name.
    pub source_name: String,
    /// Its columns' names, in table order.
    pub columns: Vec<String>,
}

fn lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `text` without its extension, when it has one (`spend.csv` → `spend`).
fn stem(text: &str) -> Option<&str> {
    let (stem, extension) = text.rsplit_once('.')?;
    let plausible = !stem.trim().is_empty()
        && (1..=MAX_EXTENSION_CHARS).contains(&extension.chars().count())
        && extension.chars().all(|c| c.is_ascii_alphanumeric());
    plausible.then_some(stem.trim())
}

/// The phrases (lower case, longest first) that name a dataset called
/// `name` uploaded as `source_name`; see the module doc.
pub fn phrases(name: &str, source_name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |phrase: &str, derived: bool| {
        let phrase: String = phrase.trim().chars().map(lower).collect();
        let generic = derived && GENERIC_STEMS.contains(&phrase.as_str());
        if phrase.chars().count() >= MIN_CHARS && !generic && !out.contains(&phrase) {
            out.push(phrase);
        }
    };
    add(name, false);
    add(source_name, false);
    for whole in [name, source_name] {
        if let Some(cut) = stem(whole) {
            add(cut, true);
        }
    }
    out.sort_by_key(|p| std::cmp::Reverse(p.chars().count()));
    out
}

/// Where `phrase` (lower case) occurs in `text` as whole words: the
/// positions (in characters) of its first character.
fn occurrences(text: &[char], phrase: &[char]) -> Vec<usize> {
    if phrase.is_empty() || phrase.len() > text.len() {
        return Vec::new();
    }
    (0..=text.len() - phrase.len())
        .filter(|&i| {
            text[i..i + phrase.len()].iter().zip(phrase).all(|(c, p)| lower(*c) == *p)
                && (i == 0 || !is_word(text[i - 1]))
                && text.get(i + phrase.len()).is_none_or(|c| !is_word(*c))
        })
        .collect()
}

/// Spans (start, end, which) of the mentions of each candidate's phrases,
/// longest first, none overlapping another.
fn spans(text: &[char], candidates: &[Vec<String>]) -> Vec<(usize, usize, usize)> {
    let mut found: Vec<(usize, usize, usize)> = Vec::new();
    for (which, phrases) in candidates.iter().enumerate() {
        for phrase in phrases {
            let chars: Vec<char> = phrase.chars().collect();
            found.extend(occurrences(text, &chars).into_iter().map(|at| (at, at + chars.len(), which)));
        }
    }
    found.sort_by(|a, b| (b.1 - b.0).cmp(&(a.1 - a.0)).then(a.0.cmp(&b.0)).then(a.2.cmp(&b.2)));
    let mut kept: Vec<(usize, usize, usize)> = Vec::new();
    for span in found {
        if !kept.iter().any(|k| span.0 < k.1 && k.0 < span.1) {
            kept.push(span);
        }
    }
    kept
}

/// The candidates (name, file name) `prompt` names, as indexes into
/// `candidates`, in the order the prompt first names them, at most
/// [`MAX_NAMED`].
pub fn mentioned(prompt: &str, candidates: &[(&str, &str)]) -> Vec<usize> {
    let text: Vec<char> = prompt.chars().collect();
    let phrases: Vec<Vec<String>> = candidates.iter().map(|(name, source)| phrases(name, source)).collect();
    let mut first: Vec<(usize, usize)> = Vec::new();
    for (start, _, which) in spans(&text, &phrases) {
        match first.iter_mut().find(|(_, w)| *w == which) {
            Some(seen) => seen.0 = seen.0.min(start),
            None => first.push((start, which)),
        }
    }
    first.sort_unstable();
    first.into_iter().map(|(_, which)| which).take(MAX_NAMED).collect()
}

/// `prompt` with every mention of `phrases` taken out, and the words about
/// uploading with them; what is left is the question about the data.
pub fn without_mentions(prompt: &str, phrases: &[String]) -> String {
    let text: Vec<char> = prompt.chars().collect();
    let mut cut = spans(&text, &[phrases.to_vec()]);
    let upload: Vec<String> = UPLOAD_WORDS.iter().map(|w| (*w).to_owned()).collect();
    cut.extend(spans(&text, &[upload]));
    let mut keep = vec![true; text.len()];
    for (start, end, _) in cut {
        for k in keep.iter_mut().take(end).skip(start) {
            *k = false;
        }
    }
    let rest: String = text.iter().zip(&keep).map(|(c, k)| if *k { *c } else { ' ' }).collect();
    // Punctuation left alone by a cut goes back onto the word before it.
    let mut words: Vec<String> = Vec::new();
    for word in rest.split_whitespace() {
        let punctuation = word.chars().all(|c| matches!(c, '?' | '!' | ',' | '.' | ';' | ':'));
        match words.last_mut() {
            Some(last) if punctuation => last.push_str(word),
            _ => words.push(word.to_owned()),
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasets_are_named_by_name_or_file_with_or_without_extension() {
        let candidates = [("Ad spend", "spend.csv"), ("Suppliers", "prices-2026.json"), ("Orders", "sales.csv")];
        assert_eq!(mentioned("Which campaign in my uploaded spend.csv did best?", &candidates), vec![0]);
        assert_eq!(mentioned("Best campaign in SPEND?", &candidates), vec![0]);
        assert_eq!(mentioned("What does the ad spend table say?", &candidates), vec![0]);
        assert_eq!(mentioned("Compare prices-2026 with suppliers", &candidates), vec![1]);
        // Whole words only, and a generic stem alone names nothing.
        assert!(mentioned("How much am I spending?", &candidates).is_empty());
        assert!(mentioned("How did sales develop last month?", &candidates).is_empty());
        assert_eq!(mentioned("Totals in sales.csv", &candidates), vec![2]);
        // The dataset's own name always counts, in the order named.
        assert_eq!(mentioned("orders vs spend.csv", &candidates), vec![2, 0]);
    }

    #[test]
    fn the_longer_mention_wins_and_at_most_three_are_taken() {
        let candidates = [("spend", "spend.csv"), ("spend 2025", "spend-2025.csv")];
        assert_eq!(mentioned("What is in spend-2025.csv?", &candidates), vec![1]);
        assert_eq!(mentioned("spend 2025 against spend", &candidates), vec![1, 0]);
        let many = [("alpha", "a.csv"), ("bravo", "b.csv"), ("charlie", "c.csv"), ("delta", "d.csv")];
        assert_eq!(mentioned("delta, charlie, bravo and alpha", &many), vec![3, 2, 1]);
        assert!(phrases("ab", "ab").is_empty(), "names under three characters name nothing");
        assert_eq!(phrases("Q3", "q3.csv"), vec!["q3.csv".to_owned()], "with its extension a short file name counts");
    }

    #[test]
    fn mentions_come_out_of_the_question() {
        let phrases = phrases("Ad spend", "spend.csv");
        assert_eq!(phrases, vec!["spend.csv".to_owned(), "ad spend".to_owned(), "spend".to_owned()]);
        let rest = without_mentions("Which campaign in my uploaded Spend.csv had the most clicks?", &phrases[..2]);
        assert_eq!(rest, "Which campaign in my had the most clicks?");
        assert_eq!(without_mentions("Totals of spend.csv?", &phrases), "Totals of?");
    }
}
