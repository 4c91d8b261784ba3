//! The plan fitted to the share prices and the code a question asks
//! about. Share prices: the
//! account's symbols read from the latest store, the ones the prompt names
//! found (`departments::market::named`), and the rules of `plan/market.rs`
//! applied, after whichever planner planned. Code: whether the account
//! has a completed analysis, and the rules of `plan/code.rs`.

use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};

use alatar_entity::{AccountScope, repository_analysis};

use crate::departments::market_named;
use crate::pipeline::Pipeline;
use crate::plan::{Plan, code_question, market_question};

/// `plan` with a `Market` step when `prompt` asks about share prices of
/// `account_id`'s symbols, without one otherwise.
pub(super) async fn fit(p: &Pipeline, account_id: uuid::Uuid, prompt: &str, plan: Plan) -> anyhow::Result<Plan> {
    let known = p.market.latest.symbols(account_id).await?;
    let named = market_named(prompt, &known);
    Ok(plan.fit_to_market(market_question(prompt, &named).as_ref()))
}

/// `plan` with a `Code` step when `prompt` asks about the account's
/// repositories, without one otherwise.
pub(super) async fn fit_code(p: &Pipeline, account_id: uuid::Uuid, prompt: &str, plan: Plan) -> anyhow::Result<Plan> {
    let scope = AccountScope::new(account_id);
    let analysed: Option<uuid::Uuid> = scope
        .find::<repository_analysis::Entity>()
        .select_only()
        .column(repository_analysis::Column::Id)
        .filter(repository_analysis::Column::CompletedAt.is_not_null())
        .filter(repository_analysis::Column::Error.is_null())
        .into_tuple()
        .one(&scope.on(&p.db))
        .await?;
    Ok(plan.fit_to_code(code_question(prompt, analysed.is_some()).as_deref()))
}
