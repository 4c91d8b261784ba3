//! Code in a plan: a `Code` step when the question is about the
//! merchant's repositories, decided after planning (as for datasets and
//! the market).
//!
//! A question is about code when it says so ([`REPOSITORY_WORDS`]: "repo",
//! "repository", "GitHub", "codebase", "source code"), or, when the
//! account has analysed a repository, when it asks about functions,
//! classes or methods ([`CODE_WORDS`]; "payment methods" is the store's,
//! so a question asking about the store too keeps the store's plan). Then, judged on the question without those
//! words: it asks about the store too (`plan::asks_about_store`) → the
//! planned plan with `Code` first, which the narrative waits for and
//! proposals never depend on; otherwise `Code` alone ("which functions in
//! my theme repo touch the cart?" is about code, not the store's carts).

use super::{Plan, asks_about_store, market::cut, market::find_word};
use crate::Department;

/// Words that name repositories.
pub const REPOSITORY_WORDS: &[&str] =
    &["repo", "repos", "repository", "repositories", "codebase", "source code", "github"];
/// Words about code, read as such when the account has an analysed
/// repository ("code" is not one: a merchant's codes are discount codes).
pub const CODE_WORDS: &[&str] = &["function", "functions", "class", "classes", "method", "methods"];

/// The objective of the `Code` step.
const OBJECTIVE: &str = "The functions and types of the analysed repository that bear on the question, each by \
    qualified name and file:line, citing the code.search call";

/// What a question says of code: the question without its code words,
/// or `None` when it is not about code.
pub fn code_question(prompt: &str, has_repositories: bool) -> Option<String> {
    let lower = prompt.to_lowercase();
    let named = REPOSITORY_WORDS.iter().any(|w| find_word(&lower, w).is_some());
    let coded = has_repositories && CODE_WORDS.iter().any(|w| find_word(&lower, w).is_some());
    if !named && !coded {
        return None;
    }
    Some(cut(cut(lower, REPOSITORY_WORDS), CODE_WORDS))
}

impl Plan {
    /// Fits the plan to the code question it asks (`None`: none); see the
    /// module doc.
    pub fn fit_to_code(self, rest: Option<&str>) -> Plan {
        let Some(rest) = rest else {
            return self.without(Department::Code);
        };
        if asks_about_store(rest, &[]) {
            self.with_first(Department::Code, OBJECTIVE)
        } else {
            self.keeping(&[Department::Datasets, Department::Market]).with_first(Department::Code, OBJECTIVE)
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::plan::{DocumentFocus, Intent, Period};

    fn planned(prompt: &str) -> Plan {
        let day = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default();
        Plan::for_question(Intent::classify(prompt), Period::parse(prompt, day, 3), DocumentFocus::classify(prompt))
    }

    #[test]
    fn code_questions_plan_code_alone_or_first() {
        let prompt = "Which functions in my theme repo touch the cart?";
        let rest = code_question(prompt, false);
        assert!(rest.is_some(), "\"repo\" names a repository");
        let plan = planned(prompt).fit_to_code(rest.as_deref());
        assert_eq!(plan.steps.iter().map(|s| s.department).collect::<Vec<_>>(), [Department::Code]);
        assert_eq!(plan.validate(), Ok(()));

        let prompt = "Did revenue drop after the checkout code in my repo changed?";
        let plan = planned(prompt).fit_to_code(code_question(prompt, true).as_deref());
        assert_eq!(plan.steps[0].department, Department::Code);
        assert_eq!(plan.steps.len(), 5);
        assert_eq!(plan.validate(), Ok(()));
        let proposer = plan.steps.iter().find(|s| s.department == Department::RecommendationGeneration);
        assert!(proposer.is_some_and(|s| !s.depends_on.contains(&0)), "no code reaches a proposal");
    }

    #[test]
    fn code_words_need_an_analysed_repository() {
        assert_eq!(code_question("Which discount code worked best?", false), None);
        assert_eq!(code_question("Which discount code worked best?", true), None, "a merchant's codes are discounts");
        assert!(code_question("Which functions compute the total?", true).is_some());
        assert_eq!(code_question("How did revenue develop?", true), None);
        let base = planned("How did revenue develop?");
        assert_eq!(base.clone().fit_to_code(None), base);
    }
}
