//! The subcommands. Each builds its own runtime after the database is open (see
//! `database.rs` for why the order matters).

use anyhow::Context;
use everreach_core::Config;
use everreach_core::db::{Database, migrate};
use everreach_core::secrets::{Keyring, columns};

use crate::{
    BenchCommand, Command, DbCommand, ImportCommand, KeysCommand, MailCommand, TokenCommand,
    UserCommand, bench, database, import, seed, users,
};

pub fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Db {
            command: DbCommand::Url { admin },
        } => db_url(&config, admin),
        Command::Serve { addr, no_workers } => with_database(&config, |target| {
            serve(target, config.clone(), addr, !no_workers)
        }),
        Command::Worker => with_database(&config, |target| worker(target, config.clone())),
        Command::Segments { command } => {
            with_database(&config, |target| crate::segments::run(target, command))
        }
        Command::Jobs { command } => {
            with_database(&config, |target| crate::jobs::run(target, command))
        }
        Command::Mail {
            command: MailCommand::Outbox { to, limit, json },
        } => with_database(&config, |target| {
            mail_outbox(target, config.clone(), to, limit, json)
        }),
        Command::Migrate => with_database(&config, |target| async move {
            let admin = Database::connect_admin(&target).await?;
            migrate::run(&admin).await?;
            eprintln!(
                "everreach: migrations applied ({} in all)",
                migrate::MIGRATOR.iter().count()
            );
            Ok(())
        }),
        Command::Keys {
            command: KeysCommand::Rotate,
        } => with_database(&config, |target| rotate_keys(target, config.clone())),
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    password_stdin,
                    role,
                    name,
                },
        } => {
            let password = read_password(password_stdin)?;
            with_database(&config, |target| {
                users::create(target, email, password, role, name)
            })
        }
        Command::Bench {
            command:
                BenchCommand::Api {
                    connections,
                    seconds,
                    json,
                },
        } => {
            let opts = bench::api::Options {
                connections,
                seconds,
                json,
            };
            with_database(&config, |target| {
                bench::api::run(target, config.clone(), opts)
            })
        }
        Command::Bench {
            command:
                BenchCommand::Jobs {
                    jobs,
                    history,
                    peer,
                    json,
                },
        } => {
            let opts = bench::jobs::Options {
                jobs,
                history,
                peer,
                json,
            };
            with_database(&config, |target| bench::jobs::run(target, opts))
        }
        Command::Bench {
            command: BenchCommand::Ingest { events, json },
        } => with_database(&config, |target| {
            bench::ingest::run(target, bench::ingest::Options { events, json })
        }),
        Command::Bench {
            command: BenchCommand::Suggest { people, json },
        } => with_database(&config, |target| {
            bench::suggest::run(target, bench::suggest::Options { people, json })
        }),
        Command::Bench {
            command:
                BenchCommand::Pages {
                    people,
                    events,
                    json,
                    keep,
                },
        } => {
            let opts = bench::pages::Options {
                people,
                events,
                json,
                keep,
            };
            with_database(&config, |target| {
                bench::pages::run(target, config.clone(), opts)
            })
        }
        Command::Bench {
            command:
                BenchCommand::ImportMbox {
                    messages,
                    json,
                    keep,
                },
        } => with_database(&config, |target| {
            bench::import_mbox::run(
                target,
                bench::import_mbox::Options {
                    messages,
                    json,
                    keep,
                },
            )
        }),
        Command::Bench {
            command:
                BenchCommand::Segments {
                    people,
                    events,
                    runs,
                    samples,
                    json,
                    keep,
                },
        } => {
            let opts = bench::segments::Options {
                people,
                events,
                runs,
                samples,
                json,
                keep,
            };
            with_database(&config, |target| bench::segments::run(target, opts))
        }
        Command::Bench {
            command:
                BenchCommand::Insights {
                    people,
                    events,
                    samples,
                    json,
                    keep,
                },
        } => {
            let opts = bench::insights::Options {
                people,
                events,
                samples,
                json,
                keep,
            };
            with_database(&config, |target| bench::insights::run(target, opts))
        }
        Command::Bench {
            command:
                BenchCommand::Load {
                    addr,
                    path,
                    connections,
                    seconds,
                },
        } => {
            let token = std::env::var("EVERREACH_BENCH_TOKEN").ok();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?;
            let result = runtime.block_on(bench::load::run(
                addr,
                &path,
                token.as_deref(),
                connections,
                seconds,
            ))?;
            #[expect(
                clippy::print_stdout,
                reason = "the load generator's JSON is its output"
            )]
            {
                println!("{}", serde_json::to_string(&result)?);
            }
            Ok(())
        }
        Command::Import {
            command: ImportCommand::Events { file, email, batch },
        } => with_database(&config, |target| {
            import::events(target, import::Options { file, email, batch })
        }),
        Command::Import {
            command: ImportCommand::Dms { file, email, batch },
        } => with_database(&config, |target| {
            import::dms(target, import::Options { file, email, batch })
        }),
        Command::Import {
            command:
                ImportCommand::Instagram {
                    path,
                    email,
                    owner,
                    dry_run,
                    json,
                },
        } => with_database(&config, |target| {
            import::export(
                target,
                import::ExportOptions { path, email, json },
                import::Importer::Instagram(everreach_core::imports::instagram::Options {
                    owner,
                    dry_run,
                    file_name: None,
                }),
            )
        }),
        Command::Import {
            command:
                ImportCommand::Linkedin {
                    path,
                    email,
                    dry_run,
                    json,
                },
        } => with_database(&config, |target| {
            import::export(
                target,
                import::ExportOptions { path, email, json },
                import::Importer::Linkedin(everreach_core::imports::linkedin::Options {
                    dry_run,
                    file_name: None,
                }),
            )
        }),
        Command::Import {
            command:
                ImportCommand::Csv {
                    path,
                    email,
                    map,
                    dry_run,
                    json,
                },
        } => with_database(&config, |target| {
            import::export(
                target,
                import::ExportOptions { path, email, json },
                import::Importer::Csv(everreach_core::imports::contacts::Options {
                    dry_run,
                    map,
                    file_name: None,
                }),
            )
        }),
        Command::Import {
            command:
                ImportCommand::Mbox {
                    path,
                    email,
                    mut me,
                    dry_run,
                    json,
                },
        } => with_database(&config, |target| {
            me.push(email.clone());
            import::export(
                target,
                import::ExportOptions { path, email, json },
                import::Importer::Mbox(everreach_core::imports::mbox::Options {
                    dry_run,
                    me,
                    file_name: None,
                }),
            )
        }),
        Command::Import {
            command:
                ImportCommand::Vcard {
                    path,
                    email,
                    dry_run,
                    json,
                },
        } => with_database(&config, |target| {
            import::export(
                target,
                import::ExportOptions { path, email, json },
                import::Importer::Vcard(everreach_core::imports::contacts::Options {
                    dry_run,
                    map: None,
                    file_name: None,
                }),
            )
        }),
        Command::Token {
            command: TokenCommand::Create { email, name },
        } => with_database(&config, |target| users::create_token(target, email, name)),
        Command::SeedPatterns { email } => {
            with_database(&config, |target| seed::patterns(target, email))
        }
    }
}

fn with_database<F, Fut>(config: &Config, f: F) -> anyhow::Result<()>
where
    F: FnOnce(everreach_core::db::DbTarget) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let (target, cluster) = database::open(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(f(target));
    drop(runtime);
    drop(cluster); // stops the embedded server if this process started it
    result
}

/// The password from standard input (its first line), never from an argument, where
/// it would show in `ps` and the shell history.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if !from_stdin {
        anyhow::bail!("give the password on standard input with --password-stdin");
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn db_url(config: &Config, admin: bool) -> anyhow::Result<()> {
    let (target, running) = database::describe(config);
    if !running {
        eprintln!(
            "everreach: note: the embedded cluster in {} is not running; start `everreach serve` first",
            config.data_dir.display()
        );
    }
    let url = if admin {
        target.admin_url()
    } else {
        target.app_url()
    };
    #[expect(clippy::print_stdout, reason = "the URL is this command's output")]
    {
        println!("{url}");
    }
    Ok(())
}

pub(crate) async fn open_with_keys(
    target: everreach_core::db::DbTarget,
    config: &Config,
) -> anyhow::Result<(Database, Keyring)> {
    let keyring = Keyring::load(config)?;
    let db = Database::open(target).await?;
    columns::verify_and_register(&db.admin, &keyring).await?;
    Ok((db, keyring))
}

async fn serve(
    target: everreach_core::db::DbTarget,
    config: Config,
    addr: std::net::SocketAddr,
    workers: bool,
) -> anyhow::Result<()> {
    let (db, keyring) = open_with_keys(target, &config).await?;
    let runner = if workers {
        Some(start_runner(&db).await?)
    } else {
        None
    };
    let limits = everreach_api::rate_limit::Limits {
        auth_per_minute: config.rate_limit_auth,
        account_per_minute: config.rate_limit_account,
        public_per_minute: config.rate_limit_public,
        read_per_minute: config.rate_limit_read,
        write_per_minute: config.rate_limit_write,
    };
    let proxies = everreach_api::rate_limit::TrustedProxies::parse(&config.trusted_proxies)
        .map_err(|why| anyhow::anyhow!("EVERREACH_TRUSTED_PROXIES: {why}"))?;
    let keyring = std::sync::Arc::new(keyring);
    let mailer = match &config.smtp_url {
        Some(url) => everreach_core::platform::mailer::Mailer::smtp(
            db.app.clone(),
            keyring.clone(),
            url,
            &config.mail_from,
        )?,
        None => {
            tracing::info!(
                "no EVERREACH_SMTP_URL: mail is held in the outbox (`everreach mail outbox`)"
            );
            everreach_core::platform::mailer::Mailer::outbox(db.app.clone(), keyring.clone())
        }
    };
    let state = everreach_api::AppState::new(db, keyring, limits)
        .await?
        .with_public_url(
            &config
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{addr}")),
        )
        .with_trusted_proxies(proxies)
        .with_mailer(mailer)
        .with_metrics_token(config.metrics_token.clone());
    let app =
        everreach_web::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (set --addr or EVERREACH_ADDR to a free HOST:PORT)")
    })?;
    tracing::info!("listening on http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    if let Some(runner) = runner {
        runner.shutdown().await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// The job runner with every handler and schedule this build has: the platform's
/// maintenance and every registered domain's (`everreach_api::domain::DOMAINS`).
async fn start_runner(
    db: &everreach_core::db::Database,
) -> anyhow::Result<everreach_jobs::RunnerHandle> {
    let mut registry = everreach_jobs::Registry::new();
    everreach_api::domain::register_jobs(&mut registry)?;
    Ok(everreach_jobs::Runner::start(
        db.app.clone(),
        registry,
        everreach_jobs::RunnerOptions::default(),
    )
    .await?)
}

async fn worker(target: everreach_core::db::DbTarget, config: Config) -> anyhow::Result<()> {
    let (db, _keyring) = open_with_keys(target, &config).await?;
    let runner = start_runner(&db).await?;
    tracing::info!("worker running; SIGINT or SIGTERM stops it");
    shutdown_signal().await;
    runner.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

async fn mail_outbox(
    target: everreach_core::db::DbTarget,
    config: Config,
    to: Option<String>,
    limit: i64,
    json: bool,
) -> anyhow::Result<()> {
    if !(1..=1000).contains(&limit) {
        anyhow::bail!("--limit must be 1 to 1000 (got {limit})");
    }
    let (db, keyring) = open_with_keys(target, &config).await?;
    let mails =
        everreach_core::platform::mailer::read_outbox(&db.admin, &keyring, to.as_deref(), limit)
            .await?;
    if mails.is_empty() {
        eprintln!("everreach: the outbox is empty");
    }
    for mail in mails.iter().rev() {
        if json {
            println!("{}", serde_json::to_string(mail)?);
        } else {
            println!(
                "--- {} · {} · to {}\nSubject: {}{}\n\n{}",
                mail.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                mail.status,
                mail.to,
                mail.subject,
                mail.error
                    .as_deref()
                    .map(|e| format!("\nError: {e}"))
                    .unwrap_or_default(),
                mail.body
            );
        }
    }
    Ok(())
}

async fn rotate_keys(target: everreach_core::db::DbTarget, config: Config) -> anyhow::Result<()> {
    let (db, mut keyring) = open_with_keys(target, &config).await?;
    if keyring.file().is_some() {
        keyring.add_generated_key()?;
    }
    let report = columns::rotate(&db.admin, &db.app, &keyring).await?;
    eprintln!(
        "everreach: key {} is current; {} secrets re-encrypted, {} plaintext values encrypted, across {} users",
        keyring.current_id(),
        report.values_resealed,
        report.plaintext_sealed,
        report.tenants
    );
    if !report.retired.is_empty() {
        eprintln!(
            "everreach: retired key(s) {}: no stored secret names them any more, so they may be \
             removed from EVERREACH_ENCRYPTION_KEYS_OLD (or the key file)",
            report.retired.join(", ")
        );
    }
    for kept in &report.still_named {
        eprintln!(
            "everreach: key {} is kept: {} value(s) in {} were sealed with it while the rotation \
             ran (a process still using the old key); restart every process with the new key, \
             then run `everreach keys rotate` again",
            kept.key_id.as_deref().unwrap_or_default(),
            kept.values,
            kept.place()
        );
    }
    Ok(())
}
