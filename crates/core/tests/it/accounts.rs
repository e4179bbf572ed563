//! Accounts across tenants: the first-run question.

use everreach_core::accounts::{Accounts, Email, Password};
use everreach_testkit::TestDb;

#[tokio::test]
async fn has_users_is_false_until_someone_signs_up() {
    // Each test database is a fresh clone of the migrated template: nobody yet.
    let db = TestDb::new().await;
    let accounts = Accounts::new(db.app.clone());
    assert!(!accounts.has_users().await.unwrap());
    accounts
        .sign_up(
            &Email::parse("ada@example.com").unwrap(),
            &Password::parse("analytical engine").unwrap(),
            None,
        )
        .await
        .unwrap();
    assert!(accounts.has_users().await.unwrap());
}
