//! The SQL of each predicate. A test is first written as a condition on its column
//! (`c.relationship_score >= $3`); the table then decides how it is asked: on the
//! people row itself, made two-valued (a NULL column never turns `NOT` into
//! "unknown"), or as `EXISTS` / `NOT EXISTS` over the related rows.

use super::super::dsl::{
    Cmp, CountTest, EventPredicate, FieldPredicate, IdentityPredicate, Occurrence,
    OutboundPredicate, Scalar, Test, TimeTest,
};
use super::super::fields::{Field, Table};
use super::{Compiler, Param, exists, keyed, like_escape, wrap};

/// Whether the test holds when a related row passes it (`EXISTS`), or is the
/// negation of such a test (`ne` is "not eq", `missing` is "not exists"): then the
/// predicate is `NOT EXISTS` and also holds for people with no related row.
pub(super) fn is_positive(test: &Test) -> bool {
    !matches!(test, Test::Missing | Test::Cmp(Cmp::Ne, _))
}

impl Compiler<'_> {
    fn scalar(&mut self, s: &Scalar) -> String {
        match s {
            Scalar::Text(t) => self.bind(Param::Text(t.clone())),
            Scalar::Enum(e) => self.bind(Param::Text((*e).to_string())),
            Scalar::Int(i) => self.bind(Param::Int(*i)),
            // numeric columns: the parameter is cast, never the column
            Scalar::Float(f) => format!("{}::numeric", self.bind(Param::Float(*f))),
        }
    }

    /// The column's SQL; the channel preference reads the bound channel's share.
    fn column_sql(&mut self, f: &FieldPredicate) -> String {
        let (_, col) = f.field.column();
        match (f.field, f.channel) {
            (Field::ChannelPreference, Some(channel)) => {
                let at = self.bind(Param::Text(channel.to_string()));
                format!("({col} ->> {at}::text)::numeric")
            }
            _ => col.to_string(),
        }
    }

    /// The positive condition of a test on `col` (`missing` gives "is there", `ne`
    /// gives "equals": the caller negates them).
    fn condition(&mut self, field: Field, col: &str, test: &Test) -> String {
        match test {
            Test::Exists | Test::Missing => format!("{col} IS NOT NULL"),
            Test::Cmp(Cmp::Eq | Cmp::Ne, v) => format!("{col} = {}", self.scalar(v)),
            Test::Cmp(cmp, v) => format!("{col} {} {}", cmp.sql(), self.scalar(v)),
            Test::Between(lo, hi) => {
                let (lo, hi) = (self.scalar(lo), self.scalar(hi));
                format!("{col} BETWEEN {lo} AND {hi}")
            }
            Test::In(values) => format!(
                "{col} = ANY({})",
                self.bind(Param::TextArray(values.clone()))
            ),
            // lower(column): the form the trigram indexes of names and e-mails are built on
            Test::Contains(text) => {
                let at = self.bind(Param::Text(format!("%{}%", like_escape(text))));
                format!("lower({col}) LIKE {at}")
            }
            Test::StartsWith(text) => {
                let at = self.bind(Param::Text(format!("{}%", like_escape(text))));
                format!("lower({col}) LIKE {at}")
            }
            Test::Time(t) => {
                let (op, at) = self.time_bound(t);
                format!("{col} {op} {at}")
            }
            Test::Has(key) => match field {
                Field::FitSignals => {
                    format!("{col} @> {}", fit_hit(&self.bind(Param::Text(key.clone()))))
                }
                _ => format!(
                    "{col} @> ARRAY[{}]::text[]",
                    self.bind(Param::Text(key.clone()))
                ),
            },
            Test::HasAny(keys) => {
                let at = self.bind(Param::TextArray(keys.clone()));
                match field {
                    Field::FitSignals => format!(
                        "EXISTS (SELECT 1 FROM unnest({at}::text[]) k(key) WHERE {col} @> {})",
                        fit_hit("k.key")
                    ),
                    _ => format!("{col} && {at}"),
                }
            }
            Test::HasAll(keys) => {
                let at = self.bind(Param::TextArray(keys.clone()));
                match field {
                    Field::FitSignals => format!(
                        "{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM unnest({at}::text[]) k(key) WHERE NOT {col} @> {})",
                        fit_hit("k.key")
                    ),
                    _ => format!("{col} @> {at}"),
                }
            }
        }
    }

    /// The comparison and bound time of a time test.
    fn time_bound(&mut self, t: &TimeTest) -> (&'static str, String) {
        let now = self.now;
        match t {
            TimeTest::Before(m) => ("<", self.time(m.resolve(now))),
            TimeTest::After(m) => (">", self.time(m.resolve(now))),
            TimeTest::Within(w) => (">=", self.time(w.start(now))),
            TimeTest::NotWithin(w) => ("<", self.time(w.start(now))),
        }
    }

    /// A positive insight test's condition, for merging into one `EXISTS`.
    pub(super) fn insight_positive(&mut self, f: &FieldPredicate) -> Option<String> {
        if !is_positive(&f.test) {
            return None;
        }
        let col = self.column_sql(f);
        Some(self.condition(f.field, &col, &f.test))
    }

    pub(super) fn field(&mut self, f: &FieldPredicate) -> String {
        let (table, _) = f.field.column();
        let col = self.column_sql(f);
        let positive = is_positive(&f.test);
        let cond = self.condition(f.field, &col, &f.test);
        let from = match table {
            Table::Person => {
                return match f.test {
                    Test::Exists => cond,
                    Test::Missing => format!("{col} IS NULL"),
                    _ if positive => format!("({col} IS NOT NULL AND {cond})"),
                    _ => format!("NOT ({col} IS NOT NULL AND {cond})"),
                };
            }
            Table::Insight => ("person_insights i", "i"),
            Table::Crm => ("instagram_contacts c", "c"),
        };
        let sql = exists(from.0, &[keyed(from.1), cond]);
        if positive { sql } else { format!("NOT {sql}") }
    }

    pub(super) fn identity(&mut self, i: &IdentityPredicate) -> String {
        let mut conds = vec![keyed("d")];
        if let Some(channel) = i.channel {
            conds.push(format!(
                "d.channel = {}",
                self.bind(Param::Text(channel.to_string()))
            ));
        }
        if let Some(verified) = i.verified {
            conds.push(format!(
                "COALESCE(d.is_verified, false) = {}",
                self.bind(Param::Bool(verified))
            ));
        }
        exists("identities d", &conds)
    }

    /// The filters of an event predicate, without the person.
    fn event_filters(&mut self, e: &EventPredicate) -> Vec<String> {
        let mut filters = Vec::new();
        if let Some(t) = &e.event_type {
            filters.push(format!(
                "e.event_type = {}",
                self.bind(Param::Text(t.clone()))
            ));
        }
        if let Some(c) = e.channel {
            filters.push(format!(
                "e.channel = {}",
                self.bind(Param::Text(c.to_string()))
            ));
        }
        if let Some(t) = e.traffic_type {
            filters.push(format!(
                "e.traffic_type = {}",
                self.bind(Param::Text(t.to_string()))
            ));
        }
        filters
    }

    pub(super) fn event(&mut self, e: &EventPredicate) -> String {
        let mut filters = self.event_filters(e);
        match e.occurrence {
            Occurrence::Count { within, count } => {
                if let Some(w) = within {
                    let at = self.time(w.start(self.now));
                    filters.push(format!("e.occurred_at >= {at}"));
                }
                self.event_count(filters, count)
            }
            Occurrence::FirstLast { first, last } => {
                filters.push("e.occurred_at IS NOT NULL".into());
                let mut base = vec![keyed("e")];
                base.extend(filters);
                let with = |extra: String| {
                    let mut conds = base.clone();
                    conds.push(extra);
                    exists("person_events e", &conds)
                };
                let any = exists("person_events e", &base);
                let mut parts: Vec<String> = Vec::new();
                if let Some(t) = first {
                    let (op, at) = self.time_bound(&t);
                    // the first is at/after t: some event, none before
                    match op {
                        "<" => parts.push(with(format!("e.occurred_at < {at}"))),
                        ">=" => parts.extend([
                            any.clone(),
                            format!("NOT {}", with(format!("e.occurred_at < {at}"))),
                        ]),
                        _ => parts.extend([
                            any.clone(),
                            format!("NOT {}", with(format!("e.occurred_at <= {at}"))),
                        ]),
                    }
                }
                if let Some(t) = last {
                    let (op, at) = self.time_bound(&t);
                    // the last is before t: some event, none at/after t
                    match op {
                        "<" => parts.extend([
                            any.clone(),
                            format!("NOT {}", with(format!("e.occurred_at >= {at}"))),
                        ]),
                        _ => parts.push(with(format!("e.occurred_at {op} {at}"))),
                    }
                }
                let mut seen = Vec::new();
                parts.retain(|p| {
                    let new = !seen.contains(p);
                    seen.push(p.clone());
                    new
                });
                wrap(parts, " AND ")
            }
        }
    }

    /// At least one: `EXISTS`; none: `NOT EXISTS`. Any other count groups the
    /// tenant's matching events once per person (a hash join, not a count per person);
    /// when zero passes, it is asked as "not among those whose count fails".
    fn event_count(&mut self, filters: Vec<String>, count: CountTest) -> String {
        let at_least_one = matches!(
            count,
            CountTest::Cmp(Cmp::Gte, 1) | CountTest::Cmp(Cmp::Gt, 0) | CountTest::Cmp(Cmp::Ne, 0)
        );
        let none = matches!(
            count,
            CountTest::Cmp(Cmp::Eq, 0)
                | CountTest::Cmp(Cmp::Lt, 1)
                | CountTest::Cmp(Cmp::Lte, 0)
                | CountTest::Between(0, 0)
        );
        if at_least_one || none {
            let mut conds = vec![keyed("e")];
            conds.extend(filters);
            let sql = exists("person_events e", &conds);
            return if none { format!("NOT {sql}") } else { sql };
        }
        let having = match count {
            CountTest::Cmp(cmp, n) => {
                format!("count(*) {} {}", cmp.sql(), self.bind(Param::Int(n)))
            }
            CountTest::Between(lo, hi) => {
                let (lo, hi) = (self.bind(Param::Int(lo)), self.bind(Param::Int(hi)));
                format!("count(*) BETWEEN {lo} AND {hi}")
            }
        };
        let zero_passes = count.holds_for(0);
        let mut conds = vec![
            "e.user_id = $1".to_string(),
            "e.person_id IS NOT NULL".to_string(),
        ];
        if let Some(scope) = &self.scope {
            conds.push(format!("e.person_id = ANY({scope})"));
        }
        conds.extend(filters);
        let having = if zero_passes {
            format!("NOT ({having})")
        } else {
            having
        };
        let grouped = format!(
            "EXISTS (SELECT 1 FROM (SELECT e.person_id FROM person_events e WHERE {} GROUP BY e.person_id HAVING {having}) g WHERE g.person_id = p.id)",
            conds.join(" AND ")
        );
        if zero_passes {
            format!("NOT {grouped}")
        } else {
            grouped
        }
    }

    pub(super) fn outbound(&mut self, o: &OutboundPredicate) -> String {
        let col = match o.outcome {
            "opened" => "m.opened_at",
            "clicked" => "m.clicked_at",
            "replied" => "m.replied_at",
            _ => "m.sent_at",
        };
        let mut conds = vec![keyed("m")];
        if o.outcome != "sent" {
            conds.push(format!("{col} IS NOT NULL"));
        }
        if let Some(w) = o.within {
            let at = self.time(w.start(self.now));
            conds.push(format!("{col} >= {at}"));
        }
        if let Some(v) = &o.variant {
            conds.push(format!("m.variant = {}", self.bind(Param::Text(v.clone()))));
        }
        if let Some(c) = o.channel {
            conds.push(format!(
                "m.channel = {}",
                self.bind(Param::Text(c.to_string()))
            ));
        }
        if let Some(g) = &o.goal_type {
            conds.push(format!(
                "m.goal_type = {}",
                self.bind(Param::Text(g.clone()))
            ));
        }
        exists("outbound_messages m", &conds)
    }
}

/// The JSONB `[{"signal_key": key}]` that a fit-signal hit list contains.
fn fit_hit(key: &str) -> String {
    format!("jsonb_build_array(jsonb_build_object('signal_key', {key}::text))")
}
