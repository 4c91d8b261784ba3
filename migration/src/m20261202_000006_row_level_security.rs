//! PostgreSQL row-level security on every table with an `account_id`: the
//! database's own wall under `AccountScope` (see
//! `alatar_entity::tenancy::row_security` for how sessions use it).
//!
//! - `alatar_app`: the role scoped statements run as. It owns nothing and
//!   may only read and write the tenant tables. Created here when missing
//!   (which needs `CREATEROLE`; a deployment without it creates the role
//!   once, `CREATE ROLE alatar_app NOLOGIN`, and grants it to the login
//!   role); the migrating role is made a member so that it may `SET ROLE`.
//! - `alatar_protect_tenant_table(t)`: enables and forces row security on
//!   `t` with the two policies and grants `alatar_app` its rows. A later
//!   migration that creates a tenant table calls it too; a test checks that
//!   every table with an `account_id` is covered.
//!
//! SQLite has no row security: nothing to do there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
DO $$
BEGIN
    -- Migrations of several databases in one cluster may race to create it.
    BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'alatar_app') THEN
            CREATE ROLE alatar_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
        END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    IF NOT pg_has_role(current_user, 'alatar_app', 'MEMBER') THEN
        EXECUTE format('GRANT alatar_app TO %I', current_user);
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO alatar_app', current_schema());
END
$$;

-- The account a scoped transaction acts for; NULL (no row matches) outside one.
CREATE OR REPLACE FUNCTION alatar_current_account() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('alatar.account_id', true), '')::uuid $$;

-- Whether the session is one of the server's own (`alatar.system = on`).
CREATE OR REPLACE FUNCTION alatar_system_session() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('alatar.system', true), '') = 'on' $$;

CREATE OR REPLACE FUNCTION alatar_protect_tenant_table(t regclass) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('DROP POLICY IF EXISTS alatar_system ON %s', t);
    EXECUTE format('DROP POLICY IF EXISTS alatar_tenant ON %s', t);
    EXECUTE format(
        'CREATE POLICY alatar_system ON %s USING (alatar_system_session()) WITH CHECK (alatar_system_session())', t);
    EXECUTE format(
        'CREATE POLICY alatar_tenant ON %s USING (account_id = alatar_current_account()) '
        'WITH CHECK (account_id = alatar_current_account())', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO alatar_app', t);
END
$$;

DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT format('%I.%I', c.table_schema, c.table_name)::regclass
        FROM information_schema.columns c
        JOIN information_schema.tables tb USING (table_schema, table_name)
        WHERE c.column_name = 'account_id' AND c.table_schema = current_schema() AND tb.table_type = 'BASE TABLE'
    LOOP
        PERFORM alatar_protect_tenant_table(t);
    END LOOP;
END
$$;
"#;

const DOWN: &str = r#"
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT DISTINCT format('%I.%I', schemaname, tablename)::regclass
        FROM pg_policies WHERE policyname IN ('alatar_system', 'alatar_tenant') AND schemaname = current_schema()
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS alatar_system ON %s', t);
        EXECUTE format('DROP POLICY IF EXISTS alatar_tenant ON %s', t);
        EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', t);
        EXECUTE format('REVOKE ALL ON %s FROM alatar_app', t);
    END LOOP;
END
$$;
DROP FUNCTION IF EXISTS alatar_protect_tenant_table(regclass);
DROP FUNCTION IF EXISTS alatar_system_session();
DROP FUNCTION IF EXISTS alatar_current_account();
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager.get_connection().execute_unprepared(UP).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager.get_connection().execute_unprepared(DOWN).await.map(|_| ())
    }
}
