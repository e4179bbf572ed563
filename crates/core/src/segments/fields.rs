//! The allowlist: every field a predicate may name, the table and column it reads,
//! its kind (which decides the operators and the value), and the closed value lists
//! the schema's CHECKs hold. SQL names come only from the `match` arms here, never
//! from a definition.

/// Channels of `identities` (its CHECK) and of outbound messages.
pub const CHANNELS: &[&str] = &[
    "email",
    "instagram",
    "linkedin",
    "twitter",
    "facebook",
    "tiktok",
    "youtube",
    "threads",
    "bluesky",
    "pinterest",
];
/// Channels of `person_events`: the networks plus `site` (our own pages).
pub const EVENT_CHANNELS: &[&str] = &[
    "email",
    "instagram",
    "linkedin",
    "twitter",
    "facebook",
    "tiktok",
    "youtube",
    "threads",
    "bluesky",
    "pinterest",
    "site",
];
/// `person_insights.activity_state`'s CHECK.
pub const ACTIVITY_STATES: &[&str] = &["active", "warming", "cool", "dormant"];
/// `instagram_contacts.relationship_stage`'s CHECK (001's eight stages).
pub const STAGES: &[&str] = &crate::crm::revio::STAGES;
/// `person_events.traffic_type`'s CHECK.
pub const TRAFFIC_TYPES: &[&str] = &["organic", "paid"];
/// What an outbound predicate asks of a message.
pub const OUTCOMES: &[&str] = &["sent", "opened", "clicked", "replied"];

/// What a field holds, which decides its operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Number,
    Time,
    Enum(&'static [&'static str]),
    /// A set of keys: `crm.tags` (a TEXT[]) and `crm.fit_signals` (signal keys).
    Keys,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Integer => "whole-number",
            Kind::Number => "number",
            Kind::Time => "time",
            Kind::Enum(_) => "enum",
            Kind::Keys => "tag",
        }
    }

    /// The operators this kind takes, in the order messages list them.
    pub fn ops(self) -> &'static [&'static str] {
        match self {
            Kind::Text => &[
                "eq",
                "ne",
                "in",
                "contains",
                "starts_with",
                "exists",
                "missing",
            ],
            Kind::Integer | Kind::Number => &[
                "eq", "ne", "lt", "lte", "gt", "gte", "between", "exists", "missing",
            ],
            Kind::Time => &[
                "before",
                "after",
                "within",
                "not_within",
                "exists",
                "missing",
            ],
            Kind::Enum(_) => &["eq", "ne", "in", "exists", "missing"],
            Kind::Keys => &["has", "has_any", "has_all"],
        }
    }
}

/// The table a field lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `people p`, the row itself.
    Person,
    /// `person_insights i`, at most one row per person.
    Insight,
    /// `instagram_contacts c`, any number of rows per person.
    Crm,
}

/// Every field of the allowlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    FullName,
    PrimaryEmail,
    Company,
    Role,
    CreatedAt,
    KeepInTouchDays,
    ActivityState,
    Warmth,
    LastActive,
    BestChannel,
    BestSendHour,
    /// The share (0..1) of a person's activity on one channel; the predicate names it.
    ChannelPreference,
    RelationshipScore,
    Stage,
    Tags,
    FitSignals,
    ConsentLevel,
    FollowerCount,
    LastMeaningfulTouch,
}

/// The public names, as a definition writes them.
pub const FIELDS: &[(&str, Field)] = &[
    ("person.full_name", Field::FullName),
    ("person.primary_email", Field::PrimaryEmail),
    ("person.company", Field::Company),
    ("person.role", Field::Role),
    ("person.created_at", Field::CreatedAt),
    ("person.keep_in_touch_days", Field::KeepInTouchDays),
    ("insight.activity_state", Field::ActivityState),
    ("insight.warmth", Field::Warmth),
    ("insight.last_active", Field::LastActive),
    ("insight.best_channel", Field::BestChannel),
    ("insight.best_send_hour", Field::BestSendHour),
    ("insight.channel_preference", Field::ChannelPreference),
    ("crm.relationship_score", Field::RelationshipScore),
    ("crm.stage", Field::Stage),
    ("crm.tags", Field::Tags),
    ("crm.fit_signals", Field::FitSignals),
    ("crm.consent_level", Field::ConsentLevel),
    ("crm.follower_count", Field::FollowerCount),
    ("crm.last_meaningful_touch", Field::LastMeaningfulTouch),
];

impl Field {
    /// Exact match only: no case folding or trimming, so a lookalike is unknown.
    pub fn parse(name: &str) -> Option<Field> {
        FIELDS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    pub fn name(self) -> &'static str {
        FIELDS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }

    pub fn kind(self) -> Kind {
        match self {
            Field::FullName | Field::PrimaryEmail | Field::Company | Field::Role => Kind::Text,
            Field::CreatedAt | Field::LastActive | Field::LastMeaningfulTouch => Kind::Time,
            Field::KeepInTouchDays
            | Field::BestSendHour
            | Field::RelationshipScore
            | Field::ConsentLevel
            | Field::FollowerCount => Kind::Integer,
            Field::Warmth | Field::ChannelPreference => Kind::Number,
            Field::ActivityState => Kind::Enum(ACTIVITY_STATES),
            Field::BestChannel => Kind::Enum(EVENT_CHANNELS),
            Field::Stage => Kind::Enum(STAGES),
            Field::Tags | Field::FitSignals => Kind::Keys,
        }
    }

    /// The table and the column's SQL (its alias: `p`, `i` or `c`). The channel
    /// preference's column depends on a bound channel, so the compiler builds it.
    pub fn column(self) -> (Table, &'static str) {
        match self {
            Field::FullName => (Table::Person, "p.full_name"),
            Field::PrimaryEmail => (Table::Person, "p.primary_email"),
            Field::Company => (Table::Person, "p.company"),
            Field::Role => (Table::Person, "p.role"),
            Field::CreatedAt => (Table::Person, "p.created_at"),
            Field::KeepInTouchDays => (Table::Person, "p.keep_in_touch_days"),
            Field::ActivityState => (Table::Insight, "i.activity_state"),
            Field::Warmth => (Table::Insight, "i.warmth_score"),
            Field::LastActive => (Table::Insight, "i.last_active_at"),
            Field::BestChannel => (Table::Insight, "i.best_channel"),
            Field::BestSendHour => (Table::Insight, "i.best_send_hour"),
            Field::ChannelPreference => (Table::Insight, "i.channel_preferences"),
            Field::RelationshipScore => (Table::Crm, "c.relationship_score"),
            Field::Stage => (Table::Crm, "c.relationship_stage"),
            Field::Tags => (Table::Crm, "c.tags"),
            Field::FitSignals => (Table::Crm, "c.fit_signals"),
            Field::ConsentLevel => (Table::Crm, "c.consent_level"),
            Field::FollowerCount => (Table::Crm, "c.follower_count"),
            Field::LastMeaningfulTouch => (Table::Crm, "c.last_meaningful_touch"),
        }
    }
}

/// "a, b or c" for messages.
pub fn one_of(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}
