//! Property: with two accounts, no sequence of operations by one ever returns
//! or changes the other's rows.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use alatar_tests::{Backend, TestApp};

#[derive(Debug, Clone)]
enum Op {
    Me,
    Account,
    RemoveVictim(usize),
    InviteVictimEmail(usize),
    LogoutVictimToken,
    UpdatePreferences(String),
    InviteAndRemoveOwn(u16),
    RefreshOwn,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Me),
        Just(Op::Account),
        (0..2usize).prop_map(Op::RemoveVictim),
        (0..2usize).prop_map(Op::InviteVictimEmail),
        Just(Op::LogoutVictimToken),
        "[A-Z]{3}".prop_map(Op::UpdatePreferences),
        any::<u16>().prop_map(Op::InviteAndRemoveOwn),
        Just(Op::RefreshOwn),
    ]
}

struct Victim {
    token: String,
    refresh: String,
    ids: Vec<String>,
    emails: Vec<String>,
}

async fn victim_state(app: &TestApp, victim: &Victim) -> Value {
    let r = app
        .gql(
            "{ me { preferences { currency llmModel } } account { id name members { id email role } } }",
            json!({}),
            Some(&victim.token),
        )
        .await
        .ok();
    r.body["data"].clone()
}

async fn setup(backend: Backend) -> (TestApp, String, String, Victim) {
    let app = TestApp::new(backend).await;
    let (attacker, attacker_refresh, _) = app.register("attacker@a.example").await;
    let (victim, victim_refresh, victim_id) = app.register("victim@b.example").await;
    let inv = app
        .gql(
            "mutation { inviteMember(email: \"colleague@b.example\", role: ADMIN) { token } }",
            json!({}),
            Some(&victim),
        )
        .await
        .ok();
    let token = inv.data("/inviteMember/token").as_str().unwrap_or_default().to_owned();
    let joined = app
        .gql(
            "mutation($t: String!) { register(email: \"colleague@b.example\", password: \"correct horse battery\", invitationToken: $t) { user { id } } }",
            json!({ "t": token }),
            None,
        )
        .await
        .ok();
    let colleague = joined.data("/register/user/id").as_str().unwrap_or_default().to_owned();
    let victim = Victim {
        token: victim,
        refresh: victim_refresh,
        ids: vec![victim_id, colleague],
        emails: vec!["victim@b.example".into(), "colleague@b.example".into()],
    };
    (app, attacker, attacker_refresh, victim)
}

async fn apply(app: &TestApp, attacker: &str, refresh: &mut String, victim: &Victim, op: &Op) -> Value {
    let r = match op {
        Op::Me => {
            app.gql(
                "{ me { id email account { id members { id email } pendingInvitations { email } } } }",
                json!({}),
                Some(attacker),
            )
            .await
        }
        Op::Account => {
            app.gql("{ account { id name members { id email preferences { currency } } } }", json!({}), Some(attacker))
                .await
        }
        Op::RemoveVictim(i) => {
            app.gql(
                "mutation($u: ID!) { removeMember(userId: $u) { id email } }",
                json!({ "u": victim.ids[*i] }),
                Some(attacker),
            )
            .await
        }
        Op::InviteVictimEmail(i) => {
            app.gql(
                "mutation($e: String!) { inviteMember(email: $e, role: VIEWER) { token invitation { email } } }",
                json!({ "e": victim.emails[*i] }),
                Some(attacker),
            )
            .await
        }
        Op::LogoutVictimToken => {
            app.gql("mutation($t: String) { logout(refreshToken: $t) }", json!({ "t": victim.refresh }), Some(attacker))
                .await
        }
        Op::UpdatePreferences(c) => {
            app.gql(
                "mutation($c: String!) { updatePreferences(input: { currency: $c }) { currency } }",
                json!({ "c": c }),
                Some(attacker),
            )
            .await
        }
        Op::InviteAndRemoveOwn(n) => {
            app.gql(
                "mutation($e: String!) { inviteMember(email: $e, role: ANALYST) { invitation { email } } }",
                json!({ "e": format!("own{n}@a.example") }),
                Some(attacker),
            )
            .await
        }
        Op::RefreshOwn => {
            let r = app.gql("mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken user { account { members { email } } } } }", json!({ "t": refresh.clone() }), None).await;
            if let Some(next) = r.data("/refreshToken/refreshToken").as_str() {
                *refresh = next.to_owned();
            }
            r
        }
    };
    r.body
}

fn check(backend: Backend) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let (app, attacker, attacker_refresh, victim) = rt.block_on(setup(backend));
    let before = rt.block_on(victim_state(&app, &victim));
    // 1,000 cases in the normal suite; `ALATAR_TENANCY_CASES=10000` for the
    // longer run (README).
    let cases = std::env::var("ALATAR_TENANCY_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1_000);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    // Invitations the attacker sent to a victim's address are the attacker's
    // own rows (they can never be accepted): once one was sent, the
    // attacker's pending list may name that address, which they typed.
    let invited_victims = std::cell::Cell::new(false);
    let result = runner.run(&proptest::collection::vec(op(), 1..6), |ops| {
        let mut refresh = attacker_refresh.clone();
        for op in &ops {
            let mut body = rt.block_on(apply(&app, &attacker, &mut refresh, &victim, op));
            if let Op::InviteVictimEmail(_) = op {
                invited_victims.set(true);
            }
            if invited_victims.get()
                && let Some(pending) =
                    body.pointer_mut("/data/me/account/pendingInvitations").and_then(Value::as_array_mut)
            {
                pending.retain(|p| !victim.emails.iter().any(|e| p["email"].as_str() == Some(e.as_str())));
            }
            let text = body.to_string();
            for secret in victim.ids.iter().chain(&victim.emails) {
                // Inviting a victim's email echoes the input back in the error; nothing else may.
                let echoed = matches!(op, Op::InviteVictimEmail(_)) && victim.emails.contains(secret);
                prop_assert!(echoed || !text.contains(secret.as_str()), "{op:?} leaked {secret}: {text}");
            }
            if let Op::RemoveVictim(_) = op {
                prop_assert_eq!(body["errors"][0]["extensions"]["code"].as_str(), Some("NOT_FOUND"));
            }
            let after = rt.block_on(victim_state(&app, &victim));
            prop_assert_eq!(&after, &before, "{:?} changed the other account", op);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The victim's refresh token still works: the attacker's logout did not revoke it.
    let r = rt.block_on(app.gql(
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
        json!({ "t": victim.refresh }),
        None,
    ));
    assert!(r.body.get("errors").is_none(), "{}", r.body);
}

#[test]
fn tenancy_holds_on_sqlite() {
    check(Backend::Sqlite);
}

#[test]
fn tenancy_holds_on_postgres() {
    check(Backend::Postgres);
}
