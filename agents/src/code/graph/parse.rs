//! Parsing with a time limit: one tree-sitter parser per grammar, created
//! on first use and reused for every later file of that grammar.

use std::time::{Duration, Instant};

use tree_sitter::{ParseOptions, ParseState, Parser, Point, Tree};

use super::Grammar;

/// How long one file may take to parse before it is given up.
pub(super) const PARSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The parsers of one worker thread.
#[derive(Default)]
pub(super) struct Parsers {
    slots: [Option<Parser>; 6],
}

impl Parsers {
    /// The parser for `grammar`, created on first use.
    fn parser(&mut self, grammar: Grammar) -> Result<&mut Parser, String> {
        let slot = self.slots.get_mut(grammar.index()).ok_or_else(|| format!("no parser for {}", grammar.name()))?;
        if slot.is_none() {
            let mut parser = Parser::new();
            parser
                .set_language(&grammar.language())
                .map_err(|error| format!("{} grammar unusable: {error}", grammar.name()))?;
            *slot = Some(parser);
        }
        slot.as_mut().ok_or_else(|| format!("no parser for {}", grammar.name()))
    }

    /// Parses `text`, cancelling after [`PARSE_TIMEOUT`].
    pub(super) fn parse(&mut self, grammar: Grammar, text: &str) -> Result<Tree, String> {
        let parser = self.parser(grammar)?;
        let started = Instant::now();
        let mut cancel = |_: &ParseState| started.elapsed() > PARSE_TIMEOUT;
        let bytes = text.as_bytes();
        let mut read = |offset: usize, _: Point| bytes.get(offset..).unwrap_or_default();
        let options = ParseOptions::new().progress_callback(&mut cancel);
        match parser.parse_with_options(&mut read, None, Some(options)) {
            Some(tree) => Ok(tree),
            None => {
                // A cancelled parse would otherwise resume on the next file.
                parser.reset();
                if started.elapsed() > PARSE_TIMEOUT {
                    Err(format!("parse cancelled after {} s", PARSE_TIMEOUT.as_secs()))
                } else {
                    Err("parser returned no tree".to_owned())
                }
            }
        }
    }
}
