//! `everreach user create` and `everreach token create`: the operator's way to make
//! accounts and API tokens without the web UI (the same service code as the API).

use anyhow::{Context, bail};
use everreach_core::accounts::{Accounts, Email, Password, Role, store};
use everreach_core::db::{Database, DbTarget};

pub async fn create(
    target: DbTarget,
    email: String,
    password: String,
    role: String,
    name: Option<String>,
) -> anyhow::Result<()> {
    let email = Email::parse(&email).map_err(|m| anyhow::anyhow!("--email {m}"))?;
    let password = Password::parse(&password).map_err(|m| anyhow::anyhow!("the password {m}"))?;
    let Some(role) = Role::parse(&role) else {
        bail!("--role {role:?} is not one of admin, manager, user, viewer");
    };
    let db = Database::open(target).await?;
    let accounts = Accounts::new(db.app.clone());
    let user = accounts.sign_up(&email, &password, name.as_deref()).await?;
    if role != Role::Admin {
        store::set_role_as_operator(&db.admin, user.id, role)
            .await
            .context("setting the role")?;
    }
    eprintln!(
        "everreach: created {} ({:?}, username {})",
        user.email, role, user.username
    );
    #[expect(
        clippy::print_stdout,
        reason = "the new user's id is this command's output"
    )]
    {
        println!("{}", user.id);
    }
    Ok(())
}

pub async fn create_token(target: DbTarget, email: String, name: String) -> anyhow::Result<()> {
    let db = Database::open(target).await?;
    let Some(user_id) = store::lookup_user_id(&db.app, &email).await? else {
        bail!("no user has the e-mail {email:?}; create one with `everreach user create`");
    };
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        bail!("--name must be 1 to 100 characters");
    }
    let (_, token) = Accounts::new(db.app.clone())
        .create_api_token(user_id, name)
        .await?;
    eprintln!("everreach: API token {name:?} created for {email}; it is shown only now:");
    #[expect(
        clippy::print_stdout,
        reason = "the token is this command's output, alone on the last line"
    )]
    {
        println!("{token}");
    }
    Ok(())
}
