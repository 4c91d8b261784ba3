//! Test fixtures written straight to the database (no API round trips).

use uuid::Uuid;

use alatar_entity::{StoreKind, account, store, user};
use sea_orm::EntityTrait;

/// A premium account with an owner and a demo store; returns their ids.
pub async fn demo_tenant(db: &sea_orm::DatabaseConnection) -> (Uuid, Uuid, Uuid) {
    use sea_orm::ActiveValue::Set;
    let (account_id, user_id, store_id) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let now = chrono::Utc::now();
    account::Entity::insert(account::ActiveModel {
        id: Set(account_id),
        name: Set("faults".into()),
        tier: Set(alatar_entity::Tier::Premium),
        created_at: Set(now),
    })
    .exec_without_returning(db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    user::Entity::insert(user::ActiveModel {
        id: Set(user_id),
        account_id: Set(account_id),
        email: Set(format!("{user_id}@faults.example")),
        password_hash: Set("unused".into()),
        role: Set(alatar_entity::Role::Owner),
        created_at: Set(now),
        last_login_at: Set(None),
        shopify_user_id: Set(None),
    })
    .exec_without_returning(db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    store::Entity::insert(store::ActiveModel {
        id: Set(store_id),
        account_id: Set(account_id),
        kind: Set(StoreKind::Demo),
        name: Set("Demo".into()),
        shop_domain: Set(None),
        demo_seed: Set(Some(1)),
        created_at: Set(now),
        disconnected_at: Set(None),
    })
    .exec_without_returning(db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    (account_id, user_id, store_id)
}
