//! `UserPreferences`: the LLM model choice and presentation settings.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

use alatar_agents::actions::{Actor, audit};
use alatar_agents::write::begin_write;
use alatar_entity::{AccountScope, user, user_preferences};

use crate::error::{ApiError, ApiResult};

/// A partial update; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct PreferencesPatch {
    /// `Some(None)` clears the choice (server default model).
    pub llm_model: Option<Option<String>>,
    /// BCP 47 tag.
    pub locale: Option<String>,
    /// IANA zone name.
    pub timezone: Option<String>,
    /// ISO 4217 code.
    pub currency: Option<String>,
    /// Email on completion.
    pub email_notifications: Option<bool>,
}

pub(crate) async fn create_defaults(db: &impl ConnectionTrait, user: &user::Model) -> ApiResult<()> {
    user_preferences::ActiveModel {
        user_id: Set(user.id),
        account_id: Set(user.account_id),
        llm_model: Set(None),
        locale: Set("en".into()),
        timezone: Set("UTC".into()),
        currency: Set("USD".into()),
        email_notifications: Set(true),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The preferences of `user_id` within `scope`.
pub async fn get(db: &DatabaseConnection, scope: AccountScope, user_id: Uuid) -> ApiResult<user_preferences::Model> {
    scope
        .find::<user_preferences::Entity>()
        .filter(user_preferences::Column::UserId.eq(user_id))
        .one(&scope.on(db))
        .await?
        .ok_or(ApiError::NotFound("preferences"))
}

/// Validates and applies `patch`, audited as `PREFERENCES_UPDATED` with the
/// names of the fields it set (not their values).
pub async fn update(
    db: &DatabaseConnection,
    scope: AccountScope,
    user_id: Uuid,
    patch: PreferencesPatch,
) -> ApiResult<user_preferences::Model> {
    let txn = begin_write(db).await?;
    let mut row: user_preferences::ActiveModel = scope
        .find::<user_preferences::Entity>()
        .filter(user_preferences::Column::UserId.eq(user_id))
        .one(&scope.on(&txn))
        .await?
        .ok_or(ApiError::NotFound("preferences"))?
        .into();
    let fields: Vec<&str> = [
        ("llmModel", patch.llm_model.is_some()),
        ("locale", patch.locale.is_some()),
        ("timezone", patch.timezone.is_some()),
        ("currency", patch.currency.is_some()),
        ("emailNotifications", patch.email_notifications.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if let Some(model) = patch.llm_model {
        if let Some(m) = &model {
            let ok =
                !m.is_empty() && m.len() <= 200 && m.chars().all(|c| c.is_ascii_alphanumeric() || "/-_.:".contains(c));
            if !ok {
                return Err(ApiError::bad_input("llmModel", "must be a model id like `google/gemini-2.5-flash`"));
            }
        }
        row.llm_model = Set(model);
    }
    if let Some(locale) = patch.locale {
        let ok = (2..=35).contains(&locale.len()) && locale.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(ApiError::bad_input("locale", "must be a BCP 47 language tag"));
        }
        row.locale = Set(locale);
    }
    if let Some(tz) = patch.timezone {
        let ok = (1..=64).contains(&tz.len()) && tz.chars().all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
        if !ok {
            return Err(ApiError::bad_input("timezone", "must be an IANA time zone name"));
        }
        row.timezone = Set(tz);
    }
    if let Some(currency) = patch.currency {
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(ApiError::bad_input("currency", "must be an ISO 4217 code such as USD"));
        }
        row.currency = Set(currency);
    }
    if let Some(notify) = patch.email_notifications {
        row.email_notifications = Set(notify);
    }
    row.updated_at = Set(Utc::now());
    let updated = row.update(&txn).await?;
    if !fields.is_empty() {
        let detail = json!({ "fields": fields });
        audit(&txn, scope.account_id(), Actor::User(user_id), "PREFERENCES_UPDATED", None, None, detail).await?;
    }
    txn.commit().await?;
    Ok(updated)
}
