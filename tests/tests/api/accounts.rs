//! register, login, refreshToken, logout, me, updatePreferences,
//! inviteMember, removeMember, changeMemberRole, and their audit records.

use std::time::Duration;

use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use alatar_entity::audit_entry;
use alatar_tests::{Backend, TestApp, on_both_backends};

const PASSWORD: &str = "correct horse battery";

async fn register_login_me(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, _, id) = app.register("Owner@Shop.Example").await;
    let me =
        app.gql("{ me { id email role account { name tier members { email } } } }", json!({}), Some(&token)).await.ok();
    assert_eq!(me.data("/me/id"), &json!(id));
    assert_eq!(me.data("/me/email"), &json!("owner@shop.example"));
    assert_eq!(me.data("/me/role"), &json!("OWNER"));
    assert_eq!(me.data("/me/account/name"), &json!("shop.example"));
    assert_eq!(me.data("/me/account/tier"), &json!("FREE"));

    let login = app
        .gql(
            "mutation($p: String!) { login(email: \"OWNER@shop.example\", password: $p) { accessToken tokenType user { email } } }",
            json!({ "p": PASSWORD }),
            None,
        )
        .await
        .ok();
    assert_eq!(login.data("/login/tokenType"), &json!("Bearer"));

    let wrong = app
        .gql(
            "mutation { login(email: \"owner@shop.example\", password: \"not the password\") { accessToken } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(wrong.code(), Some("BAD_USER_INPUT"));
    let unknown = app
        .gql(
            "mutation { login(email: \"nobody@shop.example\", password: \"not the password\") { accessToken } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        unknown.body["errors"][0]["message"], wrong.body["errors"][0]["message"],
        "must not reveal which emails exist"
    );

    let dup = app
        .gql(
            "mutation($p: String!) { register(email: \"owner@shop.example\", password: $p) { accessToken } }",
            json!({ "p": PASSWORD }),
            None,
        )
        .await;
    // Refused without saying that the address has an account (see login_security.rs).
    assert_eq!(dup.code(), Some("BAD_USER_INPUT"), "{}", dup.body);
    assert_eq!(dup.body["errors"][0]["extensions"]["field"], json!("email"));
    let weak = app
        .gql("mutation { register(email: \"x@shop.example\", password: \"short\") { accessToken } }", json!({}), None)
        .await;
    assert_eq!(weak.code(), Some("BAD_USER_INPUT"));
    assert_eq!(weak.body["errors"][0]["extensions"]["field"], json!("password"));
    let bad_email = app
        .gql(
            "mutation($p: String!) { register(email: \"not-an-email\", password: $p) { accessToken } }",
            json!({ "p": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(bad_email.body["errors"][0]["extensions"]["field"], json!("email"));
    assert!(bad_email.body["errors"][0]["extensions"]["requestId"].is_string());

    let anonymous = app.gql("{ me { id } }", json!({}), None).await;
    assert_eq!(anonymous.code(), Some("UNAUTHENTICATED"));
}

async fn refresh_rotation_and_logout(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (access, refresh, _) = app.register("a@shop.example").await;
    let q = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";
    let rotated = app.gql(q, json!({ "t": refresh }), None).await.ok();
    let refresh2 = rotated.data("/refreshToken/refreshToken").as_str().unwrap_or_default().to_owned();
    assert_ne!(refresh2, refresh);
    // Reusing a rotated token is treated as theft: the family is revoked.
    assert_eq!(app.gql(q, json!({ "t": refresh }), None).await.code(), Some("UNAUTHENTICATED"));
    assert_eq!(app.gql(q, json!({ "t": refresh2 }), None).await.code(), Some("UNAUTHENTICATED"));

    let login = app
        .gql(
            "mutation($p: String!) { login(email: \"a@shop.example\", password: $p) { refreshToken } }",
            json!({ "p": PASSWORD }),
            None,
        )
        .await
        .ok();
    let refresh3 = login.data("/login/refreshToken").as_str().unwrap_or_default().to_owned();
    app.gql("mutation($t: String) { logout(refreshToken: $t) }", json!({ "t": refresh3 }), Some(&access)).await.ok();
    assert_eq!(app.gql(q, json!({ "t": refresh3 }), None).await.code(), Some("UNAUTHENTICATED"));
    let missing = app.gql("mutation { logout }", json!({}), Some(&access)).await;
    assert_eq!(missing.code(), Some("BAD_USER_INPUT"));
}

async fn preferences(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, _, _) = app.register("p@shop.example").await;
    let m = "mutation($i: UpdatePreferencesInput!) { updatePreferences(input: $i) { llmModel currency timezone locale emailNotifications } }";
    let r = app
        .gql(
            m,
            json!({ "i": { "llmModel": "google/gemini-2.5-flash", "currency": "EUR", "emailNotifications": false } }),
            Some(&token),
        )
        .await
        .ok();
    assert_eq!(r.data("/updatePreferences/llmModel"), &json!("google/gemini-2.5-flash"));
    assert_eq!(r.data("/updatePreferences/currency"), &json!("EUR"));
    assert_eq!(r.data("/updatePreferences/timezone"), &json!("UTC"));
    let me = app.gql("{ me { preferences { llmModel emailNotifications } } }", json!({}), Some(&token)).await.ok();
    assert_eq!(me.data("/me/preferences/emailNotifications"), &json!(false));
    let cleared = app.gql(m, json!({ "i": { "llmModel": null } }), Some(&token)).await.ok();
    assert_eq!(cleared.data("/updatePreferences/llmModel"), &json!(null));
    assert_eq!(cleared.data("/updatePreferences/currency"), &json!("EUR"));
    let bad = app.gql(m, json!({ "i": { "currency": "euro" } }), Some(&token)).await;
    assert_eq!(bad.code(), Some("BAD_USER_INPUT"));
    assert_eq!(bad.body["errors"][0]["extensions"]["field"], json!("currency"));
    assert_eq!(app.gql(m, json!({ "i": { "locale": "en" } }), None).await.code(), Some("UNAUTHENTICATED"));
}

async fn roles_invite_remove(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, owner_id) = app.register("owner@team.example").await;
    let invite =
        "mutation($e: String!, $r: Role!) { inviteMember(email: $e, role: $r) { token invitation { email role } } }";
    let inv = app.gql(invite, json!({ "e": "viewer@team.example", "r": "VIEWER" }), Some(&owner)).await.ok();
    let token = inv.data("/inviteMember/token").as_str().unwrap_or_default().to_owned();
    let joined = app
        .gql(
            "mutation($t: String!, $p: String!) { register(email: \"viewer@team.example\", password: $p, invitationToken: $t) { accessToken user { id role account { members { email } } } } }",
            json!({ "t": token, "p": PASSWORD }),
            None,
        )
        .await
        .ok();
    assert_eq!(joined.data("/register/user/role"), &json!("VIEWER"));
    assert_eq!(joined.data("/register/user/account/members").as_array().map(Vec::len), Some(2));
    let viewer = joined.data("/register/accessToken").as_str().unwrap_or_default().to_owned();
    let viewer_id = joined.data("/register/user/id").as_str().unwrap_or_default().to_owned();

    // An invitation is single-use.
    let again = app
        .gql("mutation($t: String!, $p: String!) { register(email: \"viewer@team.example\", password: $p, invitationToken: $t) { accessToken } }", json!({ "t": token, "p": PASSWORD }), None)
        .await;
    assert!(matches!(again.code(), Some("CONFLICT" | "BAD_USER_INPUT")));

    // A viewer manages nobody.
    let forbidden = app.gql(invite, json!({ "e": "x@team.example", "r": "ANALYST" }), Some(&viewer)).await;
    assert_eq!(forbidden.code(), Some("FORBIDDEN"));
    let remove = "mutation($u: ID!) { removeMember(userId: $u) { email } }";
    assert_eq!(app.gql(remove, json!({ "u": owner_id }), Some(&viewer)).await.code(), Some("FORBIDDEN"));
    // The last owner stays.
    assert_eq!(app.gql(remove, json!({ "u": owner_id }), Some(&owner)).await.code(), Some("CONFLICT"));
    assert_eq!(app.gql(remove, json!({ "u": "not-a-uuid" }), Some(&owner)).await.code(), Some("BAD_USER_INPUT"));
    app.gql(remove, json!({ "u": viewer_id }), Some(&owner)).await.ok();
    // The removed member's still-unexpired token no longer gets anywhere.
    assert_eq!(app.gql("{ me { id } }", json!({}), Some(&viewer)).await.code(), Some("UNAUTHENTICATED"));
    let members = app.gql("{ account { members { email } } }", json!({}), Some(&owner)).await.ok();
    assert_eq!(members.data("/account/members"), &json!([{ "email": "owner@team.example" }]));
}

/// The account's audit records as `auditLog` gives them, oldest first.
async fn audit_log(app: &TestApp, token: &str) -> Vec<Value> {
    let log = app
        .gql("{ auditLog(first: 200) { edges { node { event actor actorUserId detail } } } }", json!({}), Some(token))
        .await
        .ok();
    let mut nodes: Vec<Value> =
        log.data("/auditLog/edges").as_array().into_iter().flatten().map(|e| e["node"].clone()).collect();
    nodes.reverse();
    nodes
}

async fn audit_rows(app: &TestApp) -> u64 {
    audit_entry::Entity::find().count(&app.db.conn).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn audit_membership_and_logins(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, owner_id) = app.register("owner@audit.example").await;
    assert!(audit_log(&app, &owner).await.is_empty(), "registering a new account is not a member change");

    let invite = app
        .gql(
            "mutation { inviteMember(email: \"admin@audit.example\", role: ADMIN) { token invitation { id } } }",
            json!({}),
            Some(&owner),
        )
        .await
        .ok();
    let invitation_id = invite.data("/inviteMember/invitation/id").clone();
    let joined = app
        .gql(
            "mutation($t: String!, $p: String!) { register(email: \"admin@audit.example\", password: $p, invitationToken: $t) { accessToken user { id } } }",
            json!({ "t": invite.data("/inviteMember/token"), "p": PASSWORD }),
            None,
        )
        .await
        .ok();
    let admin = joined.data("/register/accessToken").as_str().unwrap_or_default().to_owned();
    let admin_id = joined.data("/register/user/id").as_str().unwrap_or_default().to_owned();
    // An admin reads the log too.
    assert_eq!(audit_log(&app, &admin).await.len(), 2);

    let change = "mutation($u: ID!, $r: Role!) { changeMemberRole(userId: $u, role: $r) { id role } }";
    // Admins cannot make owners; the last owner keeps the role.
    let promote = app.gql(change, json!({ "u": admin_id, "r": "OWNER" }), Some(&admin)).await;
    assert_eq!(promote.code(), Some("FORBIDDEN"), "{}", promote.body);
    let last = app.gql(change, json!({ "u": owner_id, "r": "ADMIN" }), Some(&owner)).await;
    assert_eq!(last.code(), Some("CONFLICT"), "{}", last.body);
    let demoted = app.gql(change, json!({ "u": admin_id, "r": "ANALYST" }), Some(&owner)).await.ok();
    assert_eq!(demoted.data("/changeMemberRole/role"), &json!("ANALYST"));
    // The same role again changes nothing and records nothing.
    app.gql(change, json!({ "u": admin_id, "r": "ANALYST" }), Some(&owner)).await.ok();
    // Its token still says ADMIN; the log is read for owners and admins by the stored role.
    let refused = app.gql("{ auditLog { edges { node { event } } } }", json!({}), Some(&admin)).await;
    assert_eq!(refused.code(), Some("FORBIDDEN"), "{}", refused.body);

    app.gql(
        "mutation { updatePreferences(input: { locale: \"de\", currency: \"EUR\" }) { currency } }",
        json!({}),
        Some(&owner),
    )
    .await
    .ok();

    let login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
    app.gql(login, json!({ "e": "owner@audit.example", "p": PASSWORD }), None).await.ok();
    let wrong = app.gql(login, json!({ "e": "owner@audit.example", "p": "not the password" }), None).await;
    assert_eq!(wrong.code(), Some("BAD_USER_INPUT"));
    // A failed login is recorded off the request's path: wait for it.
    let mut recorded = false;
    for _ in 0..100 {
        if audit_log(&app, &owner).await.iter().any(|e| e["event"] == "LOGIN_FAILED") {
            recorded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(recorded, "no LOGIN_FAILED: {:?}", audit_log(&app, &owner).await);
    // An email nobody has: no account, so no record anywhere.
    let rows = audit_rows(&app).await;
    let unknown = app.gql(login, json!({ "e": "nobody@audit.example", "p": "not the password" }), None).await;
    assert_eq!(unknown.code(), Some("BAD_USER_INPUT"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(audit_rows(&app).await, rows);

    app.gql("mutation($u: ID!) { removeMember(userId: $u) { id } }", json!({ "u": admin_id }), Some(&owner)).await.ok();

    let log = audit_log(&app, &owner).await;
    let events: Vec<&str> = log.iter().map(|e| e["event"].as_str().unwrap_or_default()).collect();
    assert_eq!(
        events,
        [
            "INVITATION_CREATED",
            "INVITATION_ACCEPTED",
            "ROLE_CHANGED",
            "PREFERENCES_UPDATED",
            "LOGIN_SUCCEEDED",
            "LOGIN_FAILED",
            "MEMBER_REMOVED",
        ],
        "{log:?}"
    );
    let by = |i: usize| log[i]["actorUserId"].clone();
    assert!(log.iter().all(|e| e["actor"] == "user"), "{log:?}");
    assert_eq!(by(0), json!(owner_id));
    assert_eq!(log[0]["detail"]["email"], "admin@audit.example");
    assert_eq!(log[0]["detail"]["role"], "ADMIN");
    assert_eq!(log[0]["detail"]["invitationId"], invitation_id);
    assert_eq!(by(1), json!(admin_id), "the person who accepted");
    assert_eq!(log[1]["detail"]["invitedBy"], json!(owner_id));
    assert_eq!(by(2), json!(owner_id));
    assert_eq!(log[2]["detail"]["userId"], json!(admin_id));
    assert_eq!(log[2]["detail"]["from"], "ADMIN");
    assert_eq!(log[2]["detail"]["to"], "ANALYST");
    assert_eq!(by(3), json!(owner_id));
    assert_eq!(log[3]["detail"], json!({ "fields": ["locale", "currency"] }), "names, not values");
    assert_eq!(by(4), json!(owner_id));
    assert_eq!(by(5), json!(owner_id), "the account that was tried");
    assert!(!log[5]["detail"].to_string().contains("not the password"), "{:?}", log[5]);
    assert_eq!(by(6), json!(owner_id));
    assert_eq!(log[6]["detail"]["userId"], json!(admin_id));
    assert_eq!(log[6]["detail"]["role"], "ANALYST");

    // Another account's log holds none of it, and its owner reaches no one here.
    let (stranger, _, _) = app.register("stranger@elsewhere.example").await;
    assert!(audit_log(&app, &stranger).await.is_empty());
    let across = app.gql(change, json!({ "u": owner_id, "r": "VIEWER" }), Some(&stranger)).await;
    assert_eq!(across.code(), Some("NOT_FOUND"), "{}", across.body);
    assert_eq!(audit_log(&app, &owner).await.len(), log.len());
}

on_both_backends! {
    audit_log_records_membership_and_logins => audit_membership_and_logins;
    register_login_and_me => register_login_me;
    refresh_tokens_rotate_and_logout_revokes => refresh_rotation_and_logout;
    preferences_update_partially => preferences;
    owners_and_admins_manage_members => roles_invite_remove;
}
