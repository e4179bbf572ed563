//! The text of the mails accounts send: each holds one link to a page of this
//! installation (`public_url`), which the web UI renders.

use crate::platform::mailer::Mail;

use super::company::INVITATION_TTL;
use super::service::{PASSWORD_RESET_TTL, VERIFICATION_TTL};

fn link(public_url: &str, page: &str, token: &str) -> String {
    format!("{}/{page}?token={token}", public_url.trim_end_matches('/'))
}

pub fn verification(public_url: &str, to: &str, token: &str) -> Mail {
    Mail {
        to: to.to_string(),
        subject: "Confirm your e-mail address for EverReach".into(),
        body: format!(
            "Open this link to confirm that {to} is yours:\n\n{}\n\nIt works once, for {} hours. \
             If you did not ask for it, ignore this mail.\n",
            link(public_url, "verify-email", token),
            VERIFICATION_TTL.num_hours()
        ),
    }
}

pub fn invitation(public_url: &str, to: &str, company: &str, token: &str) -> Mail {
    Mail {
        to: to.to_string(),
        subject: format!("You are invited to {company} on EverReach"),
        body: format!(
            "You are invited to join {company} on EverReach. Open this link to choose a password:\n\n{}\n\n\
             It works once, for {} days.\n",
            link(public_url, "accept-invitation", token),
            INVITATION_TTL.num_days()
        ),
    }
}

pub fn password_reset(public_url: &str, to: &str, token: &str) -> Mail {
    Mail {
        to: to.to_string(),
        subject: "Reset your EverReach password".into(),
        body: format!(
            "Open this link to choose a new password:\n\n{}\n\nIt works once, for {} minutes, and \
             signs you out everywhere. If you did not ask for it, ignore this mail: your password \
             stays as it is.\n",
            link(public_url, "reset-password", token),
            PASSWORD_RESET_TTL.num_minutes()
        ),
    }
}
