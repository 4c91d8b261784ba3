//! PostgreSQL row-level security, the wall under `AccountScope`: every
//! tenant table is covered, a session without the scope (or the server's
//! system setting) sees and writes no tenant row, and a scoped statement
//! reaches only its account's rows even when it forgot the account filter.
//! The test databases belong to a login role that is no superuser (see
//! `tests/src/database.rs`), so the policies bind as in production.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, Database, DatabaseConnection, DbBackend, EntityTrait, QueryResult, Statement,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use alatar_entity::{AccountScope, StoreKind, store, user};
use alatar_tests::{Backend, TestApp};

async fn rows(db: &impl ConnectionTrait, sql: &str) -> Vec<QueryResult> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn count(db: &impl ConnectionTrait, table: &str) -> i64 {
    let found = rows(db, &format!("SELECT count(*) AS n FROM {table}")).await;
    found[0].try_get::<i64>("", "n").unwrap_or_else(|e| panic!("{e}"))
}

/// The tables holding an `account_id`, by name.
async fn tenant_tables(db: &impl ConnectionTrait) -> Vec<String> {
    rows(
        db,
        "SELECT c.table_name AS t FROM information_schema.columns c \
         JOIN information_schema.tables t USING (table_schema, table_name) \
         WHERE c.column_name = 'account_id' AND c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
         ORDER BY 1",
    )
    .await
    .iter()
    .map(|r| r.try_get::<String>("", "t").unwrap_or_else(|e| panic!("{e}")))
    .collect()
}

/// Two accounts with a member, a refresh token and a demo store each.
async fn two_accounts(app: &TestApp) -> (Uuid, Uuid) {
    let mut accounts = Vec::new();
    for email in ["first@rls.example", "second@rls.example"] {
        let (token, _, _) = app.register(email).await;
        app.gql("mutation { connectDemoStore { id } }", json!({}), Some(&token)).await.ok();
        let me = app.gql("{ account { id } }", json!({}), Some(&token)).await.ok();
        let id = me.data("/account/id").as_str().unwrap_or_else(|| panic!("no account id")).to_owned();
        accounts.push(Uuid::parse_str(&id).unwrap_or_else(|e| panic!("{e}")));
    }
    (accounts[0], accounts[1])
}

fn store_of(account_id: Uuid) -> store::ActiveModel {
    store::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(account_id),
        kind: Set(StoreKind::Demo),
        name: Set("planted".into()),
        shop_domain: Set(None),
        demo_seed: Set(Some(1)),
        created_at: Set(chrono::Utc::now()),
        disconnected_at: Set(None),
    }
}

/// A session of the tables' owner as anyone would open it (psql, a script,
/// code that bypassed the server's pool): no system setting, no scope.
async fn bare_session(app: &TestApp) -> DatabaseConnection {
    Database::connect(app.db.url.clone()).await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn every_tenant_table_has_forced_row_security_and_both_policies() {
    let app = TestApp::new(Backend::Postgres).await;
    let db = &app.db.conn;
    let tables = tenant_tables(db).await;
    // Every table `AccountScope` reaches is among them (and they may hold
    // more: OAuth states, which only the server's own sessions touch).
    for expected in [
        "users",
        "user_preferences",
        "refresh_tokens",
        "invitations",
        "stores",
        "analysis_requests",
        "agent_tasks",
        "tool_calls",
        "analysis_events",
        "analysis_results",
        "proposed_actions",
        "shopify_credentials",
        "shopify_cache",
        "audit_log",
        "compliance_requests",
    ] {
        assert!(tables.iter().any(|t| t == expected), "{expected} holds no account_id? tables: {tables:?}");
    }
    for table in &tables {
        let flags = rows(
            db,
            &format!(
                "SELECT relrowsecurity AS enabled, relforcerowsecurity AS forced, \
                 (SELECT count(*) FROM pg_policies WHERE tablename = '{table}' \
                  AND policyname IN ('alatar_tenant', 'alatar_system')) AS policies, \
                 pg_get_userbyid(relowner) AS owner \
                 FROM pg_class WHERE oid = '{table}'::regclass"
            ),
        )
        .await;
        let row = &flags[0];
        let get_bool = |c: &str| row.try_get::<bool>("", c).unwrap_or_else(|e| panic!("{e}"));
        assert!(get_bool("enabled"), "{table}: row security not enabled");
        assert!(get_bool("forced"), "{table}: row security not forced on its owner");
        assert_eq!(row.try_get::<i64>("", "policies").unwrap_or_else(|e| panic!("{e}")), 2, "{table}: policies");
        let owner = row.try_get::<String>("", "owner").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(owner, alatar_entity::TENANT_ROLE, "{table}: the scoped role must not own it");
    }
    // The role scoped statements run as can neither bypass row security nor
    // act as a superuser.
    let role = rows(
        db,
        &format!(
            "SELECT rolsuper AS sup, rolbypassrls AS bypass FROM pg_roles WHERE rolname = '{}'",
            alatar_entity::TENANT_ROLE
        ),
    )
    .await;
    assert!(!role[0].try_get::<bool>("", "sup").unwrap_or(true));
    assert!(!role[0].try_get::<bool>("", "bypass").unwrap_or(true));
}

#[tokio::test]
async fn a_session_without_the_scope_sees_and_writes_no_tenant_row() {
    let app = TestApp::new(Backend::Postgres).await;
    let (first, _) = two_accounts(&app).await;
    let server = &app.db.conn;
    assert_eq!(count(server, "users").await, 2, "the server's own session sees both accounts");
    assert_eq!(count(server, "stores").await, 2);
    assert!(count(server, "refresh_tokens").await >= 2);

    let bare = bare_session(&app).await;
    for table in tenant_tables(server).await {
        assert_eq!(count(&bare, &table).await, 0, "{table}: read without a scope");
    }
    let planted = store::Entity::insert(store_of(first)).exec_without_returning(&bare).await;
    let refused = planted.expect_err("an unscoped session wrote a tenant row").to_string();
    assert!(refused.contains("row-level security"), "{refused}");
    let deleted = bare.execute_unprepared("DELETE FROM users").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(deleted.rows_affected(), 0, "an unscoped session deleted tenant rows");
    assert_eq!(count(server, "users").await, 2);

    // The role scoped statements take, with no account set, sees nothing either.
    let txn = bare.begin().await.unwrap_or_else(|e| panic!("{e}"));
    txn.execute_unprepared(&format!("SET LOCAL ROLE {}", alatar_entity::TENANT_ROLE))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(count(&txn, "users").await, 0);
    assert_eq!(count(&txn, "stores").await, 0);
    // And it may not read what is not a tenant table (the accounts list).
    let accounts = txn.execute_unprepared("SELECT * FROM accounts").await;
    assert!(accounts.is_err(), "the scoped role read the accounts table");
}

#[tokio::test]
async fn a_scoped_statement_reaches_only_its_account_even_without_the_filter() {
    let app = TestApp::new(Backend::Postgres).await;
    let (first, second) = two_accounts(&app).await;
    let server = &app.db.conn;
    let scope = AccountScope::new(first);

    // `Entity::find()` without `scope.find()`: the filter a careless query forgets.
    let stores = store::Entity::find().all(&scope.on(server)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stores.len(), 1);
    assert!(stores.iter().all(|s| s.account_id == first));
    let members = user::Entity::find().all(&scope.on(server)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(members.iter().map(|u| u.account_id).collect::<Vec<_>>(), vec![first]);

    // Updates and deletes touch only its rows.
    let renamed = store::Entity::update_many()
        .col_expr(store::Column::Name, Expr::value("renamed"))
        .exec(&scope.on(server))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(renamed.rows_affected, 1);
    let others = AccountScope::new(second).find::<store::Entity>().all(server).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(others.iter().all(|s| s.name != "renamed"), "the other account's store was renamed");

    // A row of another account cannot be written through the scope.
    let planted = store::Entity::insert(store_of(second)).exec_without_returning(&scope.on(server)).await;
    assert!(planted.is_err(), "a scoped statement wrote another account's row");
    store::Entity::insert(store_of(first))
        .exec_without_returning(&scope.on(server))
        .await
        .unwrap_or_else(|e| panic!("its own row: {e}"));

    // Inside a transaction of the server's, a scoped statement leaves the
    // rest of the transaction as it was.
    let txn = server.begin().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store::Entity::find().all(&scope.on(&txn)).await.unwrap_or_else(|e| panic!("{e}")).len(), 2);
    assert_eq!(count(&txn, "stores").await, 3, "after the scoped statement the transaction sees every account again");
    txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
}

/// A scoped statement abandoned mid-flight (a client gone, a time budget
/// spent) never hands the pool a connection still inside the tenant's
/// transaction: the server's own statements after it all run as the system
/// session. (sqlx cannot roll back a `BEGIN` cancelled before its answer;
/// the scoped statement runs to its end as a task of its own.)
#[tokio::test]
async fn abandoned_scoped_statements_leave_the_pool_clean() {
    let app = TestApp::new(Backend::Postgres).await;
    let (first, _) = two_accounts(&app).await;
    let db = app.db.conn.clone();
    let scope = AccountScope::new(first);
    for round in 0..40u64 {
        // Bursts as under load, each statement given up at its own point
        // of the round trips.
        let burst = (0..32u64).map(|i| {
            let db = db.clone();
            async move {
                let scoped = scope.on(&db);
                let read = scoped.query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT id FROM stores, pg_sleep(0.001)".to_owned(),
                ));
                let wait = std::time::Duration::from_micros(20 + (round * 131 + i * 97) % 4000);
                let _ = tokio::time::timeout(wait, read).await;
            }
        });
        futures_util::future::join_all(burst).await;
    }
    // Let abandoned work finish, then use every pooled connection as the system.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let checks = (0..40).map(|_| {
        let db = db.clone();
        async move {
            let found = rows(
                &db,
                "SELECT current_user AS who, current_setting('alatar.system') AS system, \
                                   (SELECT count(*) FROM accounts) AS accounts",
            )
            .await;
            let who: String = found[0].try_get("", "who").unwrap_or_else(|e| panic!("{e}"));
            let system: String = found[0].try_get("", "system").unwrap_or_else(|e| panic!("{e}"));
            let accounts: i64 = found[0].try_get("", "accounts").unwrap_or_else(|e| panic!("{e}"));
            (who, system, accounts)
        }
    });
    for (who, system, accounts) in futures_util::future::join_all(checks).await {
        assert_ne!(who, alatar_entity::TENANT_ROLE, "a pooled connection kept the tenant role");
        assert_eq!(system, "on", "a pooled connection kept the scope's settings");
        assert_eq!(accounts, 2, "the system session sees every account");
    }
}
