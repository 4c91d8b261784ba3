//! Members who are Shopify users: `users.shopify_user_id`, the `sub` of the
//! App Bridge session tokens that act as them, unique within an account
//! (NULLs, the members who joined directly, do not collide).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    AccountId,
    ShopifyUserId,
}

const INDEX: &str = "idx_users_account_shopify_user";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut column = string_len_null(Users::ShopifyUserId, 64);
        manager.alter_table(Table::alter().table(Users::Table).add_column(&mut column).to_owned()).await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Users::Table)
                    .col(Users::AccountId)
                    .col(Users::ShopifyUserId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(INDEX).table(Users::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Users::ShopifyUserId).to_owned()).await
    }
}
