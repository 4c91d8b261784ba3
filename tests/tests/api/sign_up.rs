//! Registration confirmed by mail (issue 13, account enumeration): with
//! `mail.confirm_registrations` (the default) `signUp` answers every
//! address the same, the address's owner learns by mail what happened (a
//! link for a new address, a notice for a registered one, nothing for a
//! reserved one or past the hourly cap), `confirmSignUp` creates the
//! account once, and `register` is refused for everyone. Mail goes to
//! `.eml` files without SMTP and to an SMTP server (the fake) with one.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use alatar_tests::fake_smtp::FakeSmtp;
use alatar_tests::{Backend, Gql, TestApp};

const PASSWORD: &str = "tulip ledger orbit 7";
const SIGN_UP: &str =
    "mutation($e: String!, $t: String) { signUp(email: $e, invitationToken: $t) { email expiresInHours } }";
const CONFIRM: &str = "mutation($t: String!, $p: String!, $a: String) { confirmSignUp(token: $t, password: $p, accountName: $a) { accessToken refreshToken user { id email role } } }";
const REGISTER: &str = "mutation($e: String!, $p: String!) { register(email: $e, password: $p) { accessToken } }";

async fn confirming(backend: Backend) -> TestApp {
    TestApp::with_config(backend, |c| c.mail.confirm_registrations = true).await
}

async fn sign_up(app: &TestApp, email: &str, invitation: Option<&str>) -> Gql {
    app.gql(SIGN_UP, json!({ "e": email, "t": invitation }), None).await
}

/// The `.eml` files in `dir`, decoded enough to read (quoted-printable soft
/// breaks undone), with their recipients.
fn mails(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|m| m.replace("=\r\n", "").replace("=3D", "="))
        .collect()
}

async fn wait_for_mails(dir: &Path, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let got = mails(dir);
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    mails(dir)
}

fn to(mail: &str, email: &str) -> bool {
    mail.lines().any(|l| l.eq_ignore_ascii_case(&format!("To: {email}")))
}

/// The secret of the confirmation link in `mail`.
fn link_token(mail: &str) -> Option<String> {
    let at = mail.find("#/confirm/")? + "#/confirm/".len();
    Some(mail[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect())
}

async fn confirm(app: &TestApp, token: &str) -> Gql {
    confirm_with(app, token, PASSWORD).await
}

async fn confirm_with(app: &TestApp, token: &str, password: &str) -> Gql {
    app.gql(CONFIRM, json!({ "t": token, "p": password, "a": "Tulip Goods" }), None).await
}

async fn signed_up(backend: Backend) {
    let app = confirming(backend).await;
    let dir = app.db.dir.join("mail");

    // `register` tells nobody anything any more: refused for every address.
    let direct = app.gql(REGISTER, json!({ "e": "new@tulip.example", "p": PASSWORD }), None).await;
    assert_eq!(direct.code(), Some("BAD_USER_INPUT"), "{}", direct.body);
    assert!(direct.body["errors"][0]["message"].as_str().unwrap_or_default().contains("signUp"), "{}", direct.body);

    // A new address: a link, which creates the account once.
    let first = sign_up(&app, " New@Tulip.example ", None).await.ok();
    assert_eq!(first.data("/signUp"), &json!({ "email": "new@tulip.example", "expiresInHours": 24 }));
    let sent = wait_for_mails(&dir, 1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(to(&sent[0], "new@tulip.example"), "{}", sent[0]);
    assert!(sent[0].contains("Subject: Confirm your Alatar account"), "{}", sent[0]);
    let token = link_token(&sent[0]).unwrap_or_else(|| panic!("no link in {}", sent[0]));
    assert_eq!(token.len(), 43, "{token}");
    // The password is chosen on the link's page: a weak one is refused
    // there and the link still works.
    let weak = confirm_with(&app, &token, "password12").await;
    assert_eq!(weak.code(), Some("BAD_USER_INPUT"), "{}", weak.body);
    assert_eq!(weak.body["errors"][0]["extensions"]["field"], "password", "{}", weak.body);
    // Nothing exists before the link is followed.
    let early = app
        .gql(
            "mutation { login(email: \"new@tulip.example\", password: \"tulip ledger orbit 7\") { accessToken } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(early.code(), Some("BAD_USER_INPUT"), "{}", early.body);
    let confirmed = confirm(&app, &token).await.ok();
    assert_eq!(confirmed.data("/confirmSignUp/user/email"), "new@tulip.example");
    assert_eq!(confirmed.data("/confirmSignUp/user/role"), "OWNER");
    let access = confirmed.data("/confirmSignUp/accessToken").as_str().unwrap_or_default().to_owned();
    let me = app.gql("{ me { email account { name } } }", json!({}), Some(&access)).await.ok();
    assert_eq!(me.data("/me"), &json!({ "email": "new@tulip.example", "account": { "name": "Tulip Goods" } }));
    let again = confirm(&app, &token).await;
    assert_eq!(again.code(), Some("BAD_USER_INPUT"), "a link works once: {}", again.body);
    assert_eq!(confirm(&app, "not-a-token").await.code(), Some("BAD_USER_INPUT"));
    let stored: Vec<alatar_entity::sign_up::Model> =
        <alatar_entity::sign_up::Entity as sea_orm::EntityTrait>::find().all(&app.db.conn).await.unwrap_or_default();
    assert!(stored.iter().all(|s| s.confirmed_at.is_some()), "{stored:?}");

    // Someone who signs up another person's address chooses nothing that
    // person's account keeps: the owner of the mailbox sets the password,
    // and every other link of the address is spent with the one used.
    sign_up(&app, "victim@tulip.example", None).await.ok();
    sign_up(&app, "victim@tulip.example", None).await.ok();
    let sent = wait_for_mails(&dir, 3).await;
    let links: Vec<String> =
        sent.iter().filter(|m| to(m, "victim@tulip.example")).filter_map(|m| link_token(m)).collect();
    assert_eq!(links.len(), 2, "{sent:?}");
    confirm_with(&app, &links[1], "victim's own passphrase 9").await.ok();
    let stale = confirm_with(&app, &links[0], "attacker passphrase 42").await;
    assert_eq!(stale.code(), Some("BAD_USER_INPUT"), "the other link is spent: {}", stale.body);
    let login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
    let owner = app.gql(login, json!({ "e": "victim@tulip.example", "p": "victim's own passphrase 9" }), None).await;
    assert!(owner.body["errors"].is_null(), "{}", owner.body);
    let wrong = app.gql(login, json!({ "e": "victim@tulip.example", "p": "attacker passphrase 42" }), None).await;
    assert_eq!(wrong.code(), Some("BAD_USER_INPUT"), "{}", wrong.body);
    // A mailbox in address clothing is no address.
    for disguised in ["<victim@tulip.example>", "a<victim@tulip.example>", "\"x\"<victim@tulip.example>"] {
        let refused = sign_up(&app, disguised, None).await;
        assert_eq!(refused.code(), Some("BAD_USER_INPUT"), "{disguised}: {}", refused.body);
    }

    // A registered address and a fresh one: the same answer, word for word.
    let taken = sign_up(&app, "new@tulip.example", None).await.ok();
    let fresh = sign_up(&app, "fresh@tulip.example", None).await.ok();
    let reserved = sign_up(&app, "someone@shop.invalid", None).await.ok();
    for r in [&taken, &fresh, &reserved] {
        assert_eq!(r.status, fresh.status);
        assert_eq!(r.data("/signUp/expiresInHours"), 24);
        assert!(r.body.get("errors").is_none(), "{}", r.body);
    }
    let mut keys: Vec<Vec<String>> = [&taken, &fresh]
        .iter()
        .map(|r| r.data("/signUp").as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default())
        .collect();
    keys.dedup();
    assert_eq!(keys.len(), 1);
    // What differs is told only to the address: a notice, not a link.
    let sent = wait_for_mails(&dir, 5).await;
    assert_eq!(sent.len(), 5, "the reserved address gets nothing: {sent:?}");
    let notice = sent.iter().find(|m| to(m, "new@tulip.example") && m.contains("already has one"));
    let notice = notice.unwrap_or_else(|| panic!("no notice in {sent:?}"));
    assert!(link_token(notice).is_none(), "{notice}");
    assert!(notice.contains("#/signin"), "{notice}");
    assert!(sent.iter().any(|m| to(m, "fresh@tulip.example") && link_token(m).is_some()));

    // At most three mails an hour to one address, whatever asks.
    for _ in 0..3 {
        sign_up(&app, "flooded@tulip.example", None).await.ok();
    }
    let sent = wait_for_mails(&dir, 8).await;
    let flooded = sent.iter().filter(|m| to(m, "flooded@tulip.example")).count();
    assert_eq!(flooded, 3);
    sign_up(&app, "flooded@tulip.example", None).await.ok();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mails(&dir).iter().filter(|m| to(m, "flooded@tulip.example")).count(), 3, "capped");

    // An invitation joins the inviting account once the invitee's link is followed.
    let invite = app
        .gql(
            "mutation { inviteMember(email: \"analyst@tulip.example\", role: ANALYST) { token } }",
            json!({}),
            Some(&access),
        )
        .await
        .ok();
    let invitation = invite.data("/inviteMember/token").as_str().unwrap_or_default().to_owned();
    let wrong = sign_up(&app, "other@tulip.example", Some(&invitation)).await;
    assert_eq!(wrong.code(), Some("BAD_USER_INPUT"), "an invitation is for its address: {}", wrong.body);
    sign_up(&app, "analyst@tulip.example", Some(&invitation)).await.ok();
    let sent = wait_for_mails(&dir, 9).await;
    let invited = sent.iter().find(|m| to(m, "analyst@tulip.example"));
    assert!(invited.is_some_and(|m| m.contains("joins the account \"Tulip Goods\"")), "{invited:?}");
    let link = invited.and_then(|m| link_token(m));
    let joined = confirm(&app, &link.unwrap_or_default()).await.ok();
    assert_eq!(joined.data("/confirmSignUp/user/role"), "ANALYST");
    let members = app.gql("{ account { members { email } } }", json!({}), Some(&access)).await.ok();
    let emails: Vec<&Value> =
        members.data("/account/members").as_array().into_iter().flatten().map(|m| &m["email"]).collect();
    assert!(emails.contains(&&json!("analyst@tulip.example")), "{emails:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_is_confirmed_by_mail_sqlite() {
    signed_up(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_is_confirmed_by_mail_postgres() {
    signed_up(Backend::Postgres).await;
}

/// With `mail.smtp_url` the link goes out over SMTP, in the order RFC 5321
/// asks, from the configured sender, to the address alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_mail_goes_out_over_smtp() {
    let smtp = FakeSmtp::start().await;
    let url = smtp.url.clone();
    let app = TestApp::with_config(Backend::Sqlite, |c| {
        c.mail.confirm_registrations = true;
        c.mail.smtp_url = Some(url.into());
        c.mail.from = "Tulip Analyst <analyst@alatar.example>".into();
        c.mail.console_url = "https://alatar.example/console/".into();
    })
    .await;
    sign_up(&app, "smtp@tulip.example", None).await.ok();
    let got = smtp.wait_for(1).await;
    assert_eq!(got.len(), 1, "refused: {:?}", smtp.refused());
    assert!(smtp.refused().is_empty(), "{:?}", smtp.refused());
    assert_eq!(got[0].from, "analyst@alatar.example");
    assert_eq!(got[0].to, vec!["smtp@tulip.example".to_owned()]);
    let data = got[0].data.replace("=\r\n", "").replace("=3D", "=");
    assert!(
        data.contains("From: \"Tulip Analyst\" <analyst@alatar.example>")
            || data.contains("From: Tulip Analyst <analyst@alatar.example>"),
        "{data}"
    );
    assert!(data.contains("https://alatar.example/console/#/confirm/"), "{data}");
    let token = link_token(&data).unwrap_or_default();
    let confirmed = confirm(&app, &token).await.ok();
    assert_eq!(confirmed.data("/confirmSignUp/user/email"), "smtp@tulip.example");
    assert!(!app.db.dir.join("mail").exists(), "no files when SMTP is configured");
}

/// A mail server that is down costs the answer nothing and tells nothing:
/// the sign-up is recorded, the failure logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_answers_the_same_when_mail_is_down() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
    let port = closed.unwrap_or(1);
    let app = TestApp::with_config(Backend::Sqlite, |c| {
        c.mail.confirm_registrations = true;
        c.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
    })
    .await;
    let started = std::time::Instant::now();
    let r = sign_up(&app, "down@tulip.example", None).await.ok();
    assert_eq!(r.data("/signUp/email"), "down@tulip.example");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}
