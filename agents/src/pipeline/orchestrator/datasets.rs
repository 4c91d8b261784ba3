//! The plan fitted to the merchant's uploaded datasets: one small read of
//! the account's `READY` datasets' names (and their columns' names), the
//! ones the prompt names found (`datasets::catalog::names`), and the rules
//! of `plan/datasets.rs` applied, after whichever planner planned.

use sea_orm::DbErr;

use alatar_entity::{AccountScope, analysis_request};

use crate::datasets::catalog::{mentioned, phrases, ready_names, without_mentions};
use crate::pipeline::Pipeline;
use crate::plan::{NamedDatasets, Plan};

/// `plan` with a `Datasets` step when `request`'s prompt names one of its
/// account's loaded datasets, without one otherwise.
pub(super) async fn fit(p: &Pipeline, request: &analysis_request::Model, plan: Plan) -> Result<Plan, DbErr> {
    let names = ready_names(&p.db, AccountScope::new(request.account_id)).await?;
    let candidates: Vec<(&str, &str)> = names.iter().map(|n| (n.name.as_str(), n.source_name.as_str())).collect();
    let chosen: Vec<_> = mentioned(&request.prompt, &candidates).into_iter().filter_map(|i| names.get(i)).collect();
    if chosen.is_empty() {
        return Ok(plan.fit_to_datasets(None));
    }
    let titles: Vec<String> = chosen.iter().map(|n| n.name.clone()).collect();
    let columns: Vec<String> = chosen.iter().flat_map(|n| n.columns.iter().cloned()).collect();
    let said: Vec<String> = chosen.iter().flat_map(|n| phrases(&n.name, &n.source_name)).collect();
    let rest = without_mentions(&request.prompt, &said);
    Ok(plan.fit_to_datasets(Some(&NamedDatasets { names: &titles, columns: &columns, rest: &rest })))
}
