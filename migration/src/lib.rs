//! Schema migrations, applied on start in embedded mode and by `alatar migrate`.
//!
//! Landed migrations are never edited; add a new one instead.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_accounts;
mod m20261122_000002_create_analysis;
mod m20261122_000003_create_shopify;
mod m20261123_000004_step_commit_function;
mod m20261124_000005_add_shopify_user_id;
mod m20261202_000006_row_level_security;
mod m20261202_000007_create_knowledge;
mod m20261202_000008_add_chunk_vectors;
mod m20261202_000009_add_chunk_full_text;
mod m20261202_000010_create_chat;
mod m20261202_000011_add_document_summary;
mod m20261202_000012_add_vector_versions;
mod m20261202_000013_create_workflows;
mod m20261202_000014_scope_chunk_fts;
mod m20261202_000015_create_datasets;
mod m20261202_000016_dataset_insights;
mod m20261202_000017_create_ml_models;
mod m20261203_000018_create_dashboards;
mod m20261203_000019_create_market;
mod m20261203_000020_create_repository_analyses;
mod m20261207_000021_create_code_graph;
mod m20261207_000022_create_sign_ups;

/// Runs every migration in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_accounts::Migration),
            Box::new(m20261122_000002_create_analysis::Migration),
            Box::new(m20261122_000003_create_shopify::Migration),
            Box::new(m20261123_000004_step_commit_function::Migration),
            Box::new(m20261124_000005_add_shopify_user_id::Migration),
            Box::new(m20261202_000006_row_level_security::Migration),
            Box::new(m20261202_000007_create_knowledge::Migration),
            Box::new(m20261202_000008_add_chunk_vectors::Migration),
            Box::new(m20261202_000009_add_chunk_full_text::Migration),
            Box::new(m20261202_000010_create_chat::Migration),
            Box::new(m20261202_000011_add_document_summary::Migration),
            Box::new(m20261202_000012_add_vector_versions::Migration),
            Box::new(m20261202_000013_create_workflows::Migration),
            Box::new(m20261202_000014_scope_chunk_fts::Migration),
            Box::new(m20261202_000015_create_datasets::Migration),
            Box::new(m20261202_000016_dataset_insights::Migration),
            Box::new(m20261202_000017_create_ml_models::Migration),
            Box::new(m20261203_000018_create_dashboards::Migration),
            Box::new(m20261203_000019_create_market::Migration),
            Box::new(m20261203_000020_create_repository_analyses::Migration),
            Box::new(m20261207_000021_create_code_graph::Migration),
            Box::new(m20261207_000022_create_sign_ups::Migration),
        ]
    }
}
