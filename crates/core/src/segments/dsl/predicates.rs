//! The predicates: field, identity, event, outbound and segment nodes.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::super::fields::{
    CHANNELS, EVENT_CHANNELS, FIELDS, Field, Kind, OUTCOMES, TRAFFIC_TYPES, one_of,
};
use super::super::time::quoted;
use super::{
    Cmp, CountTest, EventPredicate, FieldPredicate, IdentityPredicate, MAX_COUNT, Occurrence,
    OutboundPredicate, Parser, Scalar, Test, TimeTest, child, type_name,
};

const TIME_OPS: &[&str] = &["before", "after", "within", "not_within"];
const COUNT_OPS: &[&str] = &["eq", "ne", "lt", "lte", "gt", "gte", "between"];

impl Parser {
    /// `{"field": …, "op": …, "value": …, "channel": …}`; `ptr` is the node's.
    pub(super) fn field(&mut self, o: &Map<String, Value>, ptr: &str) -> Option<FieldPredicate> {
        let field_at = child(ptr, "field");
        let field = match &o["field"] {
            Value::String(name) => {
                let f = Field::parse(name);
                if f.is_none() {
                    let names: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
                    self.err(
                        &field_at,
                        format!(
                            "unknown field {}; use one of {}",
                            quoted(name),
                            one_of(&names)
                        ),
                    );
                }
                f
            }
            other => {
                self.err(
                    &field_at,
                    format!("must be a field name, not {}", type_name(other)),
                );
                None
            }
        };
        let op_at = child(ptr, "op");
        let op = match o.get("op") {
            Some(Value::String(op)) => Some(op.as_str()),
            Some(other) => {
                self.err(
                    &op_at,
                    format!("must be an operator name, not {}", type_name(other)),
                );
                None
            }
            None => {
                self.err(ptr, "a field predicate needs \"op\"");
                None
            }
        };
        let field = field?;
        let kind = field.kind();
        let channel_at = child(ptr, "channel");
        let channel = match (field, o.get("channel")) {
            (Field::ChannelPreference, Some(c)) => {
                Some(self.choice(c, &channel_at, EVENT_CHANNELS)?)
            }
            (Field::ChannelPreference, None) => {
                self.err(
                    ptr,
                    "insight.channel_preference needs \"channel\" (whose share of their activity)",
                );
                return None;
            }
            (_, Some(_)) => {
                self.err(
                    &channel_at,
                    "only insight.channel_preference takes \"channel\"",
                );
                return None;
            }
            (_, None) => None,
        };
        let op = op?;
        if !kind.ops().contains(&op) {
            self.err(
                &op_at,
                format!(
                    "{} is not an operator of {} (a {} field); use one of {}",
                    quoted(op),
                    field.name(),
                    kind.name(),
                    one_of(kind.ops())
                ),
            );
            return None;
        }
        let value_at = child(ptr, "value");
        if matches!(op, "exists" | "missing") {
            if o.contains_key("value") {
                self.err(&value_at, format!("\"{op}\" takes no value"));
                return None;
            }
            let test = if op == "exists" {
                Test::Exists
            } else {
                Test::Missing
            };
            return Some(FieldPredicate {
                field,
                channel,
                test,
            });
        }
        let Some(v) = o.get("value") else {
            self.err(ptr, format!("\"{op}\" needs a \"value\""));
            return None;
        };
        let test = self.test(kind, op, v, &value_at)?;
        Some(FieldPredicate {
            field,
            channel,
            test,
        })
    }

    /// The test of an operator the kind takes (checked by the caller).
    fn test(&mut self, kind: Kind, op: &str, v: &Value, at: &str) -> Option<Test> {
        let whole = kind == Kind::Integer;
        Some(match (kind, op) {
            (Kind::Text, "in") => Test::In(self.texts(v, at)?),
            (Kind::Text, "contains") => Test::Contains(self.text(v, at)?),
            (Kind::Text, "starts_with") => Test::StartsWith(self.text(v, at)?),
            (Kind::Text, _) => Test::Cmp(Cmp::parse(op)?, Scalar::Text(self.text(v, at)?)),
            (Kind::Integer | Kind::Number, "between") => {
                let (lo, hi) = self.range(v, at, whole)?;
                Test::Between(lo, hi)
            }
            (Kind::Integer | Kind::Number, _) => {
                Test::Cmp(Cmp::parse(op)?, self.number(v, at, whole)?)
            }
            (Kind::Time, _) => Test::Time(self.time_test(op, v, at)?),
            (Kind::Enum(allowed), "in") => Test::In(self.choices(v, at, allowed)?),
            (Kind::Enum(allowed), _) => {
                Test::Cmp(Cmp::parse(op)?, Scalar::Enum(self.choice(v, at, allowed)?))
            }
            (Kind::Keys, "has") => Test::Has(self.text(v, at)?),
            (Kind::Keys, "has_any") => Test::HasAny(self.texts(v, at)?),
            (Kind::Keys, _) => Test::HasAll(self.texts(v, at)?),
        })
    }

    fn time_test(&mut self, op: &str, v: &Value, at: &str) -> Option<TimeTest> {
        Some(match op {
            "before" => TimeTest::Before(self.moment(v, at)?),
            "after" => TimeTest::After(self.moment(v, at)?),
            "within" => TimeTest::Within(self.window(v, at)?),
            _ => TimeTest::NotWithin(self.window(v, at)?),
        })
    }

    /// `{"op": …, "value": …}` of an event's `first`, `last` or `count`.
    fn op_value<'v>(
        &mut self,
        v: &'v Value,
        ptr: &str,
        ops: &'static [&'static str],
    ) -> Option<(&'static str, &'v Value)> {
        let o = self.object(v, ptr, "this")?;
        self.unknown_keys(o, ptr, &["op", "value"], "this object");
        let op = match o.get("op") {
            Some(op) => self.choice(op, &child(ptr, "op"), ops),
            None => {
                self.err(ptr, format!("needs \"op\", one of {}", one_of(ops)));
                None
            }
        };
        let value = o.get("value");
        if value.is_none() {
            self.err(ptr, "needs a \"value\"");
        }
        Some((op?, value?))
    }

    pub(super) fn identity(&mut self, v: &Value, ptr: &str) -> Option<IdentityPredicate> {
        let o = self.object(v, ptr, "\"identity\"")?;
        self.unknown_keys(o, ptr, &["channel", "verified"], "\"identity\"");
        let channel = o
            .get("channel")
            .map(|c| self.choice(c, &child(ptr, "channel"), CHANNELS));
        let verified = o
            .get("verified")
            .map(|b| self.boolean(b, &child(ptr, "verified")));
        Some(IdentityPredicate {
            channel: channel.map_or(Some(None), |c| c.map(Some))?,
            verified: verified.map_or(Some(None), |b| b.map(Some))?,
        })
    }

    pub(super) fn event(&mut self, v: &Value, ptr: &str) -> Option<EventPredicate> {
        let o = self.object(v, ptr, "\"event\"")?;
        let keys = [
            "type",
            "channel",
            "traffic_type",
            "within",
            "count",
            "first",
            "last",
        ];
        let errors_before = self.errors.len();
        self.unknown_keys(o, ptr, &keys, "\"event\"");
        let event_type = o
            .get("type")
            .and_then(|t| self.event_type(t, &child(ptr, "type")));
        let channel = o
            .get("channel")
            .and_then(|c| self.choice(c, &child(ptr, "channel"), EVENT_CHANNELS));
        let traffic_type = o
            .get("traffic_type")
            .and_then(|t| self.choice(t, &child(ptr, "traffic_type"), TRAFFIC_TYPES));
        let within = o
            .get("within")
            .and_then(|w| self.window(w, &child(ptr, "within")));
        let count = o
            .get("count")
            .and_then(|c| self.count(c, &child(ptr, "count")));
        let first = o
            .get("first")
            .and_then(|f| self.occurrence_time(f, &child(ptr, "first")));
        let last = o
            .get("last")
            .and_then(|l| self.occurrence_time(l, &child(ptr, "last")));
        let has = |k: &str| o.contains_key(k);
        if (has("first") || has("last")) && (has("within") || has("count")) {
            self.err(ptr, "\"first\"/\"last\" ask when events happened and \"within\"/\"count\" how many: use one or the other (combine two event predicates with \"all\")");
        }
        if self.errors.len() > errors_before {
            return None;
        }
        let occurrence = if has("first") || has("last") {
            Occurrence::FirstLast { first, last }
        } else {
            Occurrence::Count {
                within,
                count: count.unwrap_or(CountTest::Cmp(Cmp::Gte, 1)),
            }
        };
        Some(EventPredicate {
            event_type,
            channel,
            traffic_type,
            occurrence,
        })
    }

    /// As ingestion stores it: 1 to 64 of `a-z`, `0-9`, `_`, `.`.
    fn event_type(&mut self, v: &Value, ptr: &str) -> Option<String> {
        let t = self.text(v, ptr)?;
        let ok = t.len() <= 64
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        if !ok {
            self.err(
                ptr,
                format!(
                    "{} is not an event type: 1 to 64 of a-z, 0-9, '_' or '.' (e.g. dm_reply)",
                    quoted(&t)
                ),
            );
            return None;
        }
        Some(t)
    }

    fn count(&mut self, v: &Value, ptr: &str) -> Option<CountTest> {
        let (op, value) = self.op_value(v, ptr, COUNT_OPS)?;
        let at = child(ptr, "value");
        let whole = |p: &mut Parser, v: &Value, at: &str| match v
            .as_i64()
            .filter(|n| (0..=MAX_COUNT).contains(n))
        {
            Some(n) => Some(n),
            None => {
                p.err(
                    at,
                    format!("a count is a whole number from 0 to {MAX_COUNT}"),
                );
                None
            }
        };
        if op == "between" {
            let pair = match value {
                Value::Array(items) if items.len() == 2 => items,
                _ => {
                    self.err(&at, "\"between\" takes [low, high]");
                    return None;
                }
            };
            let lo = whole(self, &pair[0], &child(&at, "0"));
            let hi = whole(self, &pair[1], &child(&at, "1"));
            let (lo, hi) = (lo?, hi?);
            if lo > hi {
                self.err(&at, "low must not be above high");
                return None;
            }
            return Some(CountTest::Between(lo, hi));
        }
        Some(CountTest::Cmp(Cmp::parse(op)?, whole(self, value, &at)?))
    }

    fn occurrence_time(&mut self, v: &Value, ptr: &str) -> Option<TimeTest> {
        let (op, value) = self.op_value(v, ptr, TIME_OPS)?;
        self.time_test(op, value, &child(ptr, "value"))
    }

    pub(super) fn outbound(&mut self, v: &Value, ptr: &str) -> Option<OutboundPredicate> {
        let o = self.object(v, ptr, "\"outbound\"")?;
        let errors_before = self.errors.len();
        self.unknown_keys(
            o,
            ptr,
            &["outcome", "variant", "channel", "goal_type", "within"],
            "\"outbound\"",
        );
        let outcome = o.get("outcome").map_or(Some("sent"), |x| {
            self.choice(x, &child(ptr, "outcome"), OUTCOMES)
        });
        let variant = o
            .get("variant")
            .and_then(|x| self.text(x, &child(ptr, "variant")));
        let channel = o
            .get("channel")
            .and_then(|x| self.choice(x, &child(ptr, "channel"), CHANNELS));
        let goal_type = o
            .get("goal_type")
            .and_then(|x| self.text(x, &child(ptr, "goal_type")));
        let within = o
            .get("within")
            .and_then(|x| self.window(x, &child(ptr, "within")));
        if self.errors.len() > errors_before {
            return None;
        }
        Some(OutboundPredicate {
            outcome: outcome?,
            variant,
            channel,
            goal_type,
            within,
        })
    }

    pub(super) fn segment(&mut self, v: &Value, ptr: &str) -> Option<Uuid> {
        match v {
            Value::String(s) => match Uuid::try_parse(s) {
                Ok(id) => Some(id),
                Err(_) => {
                    self.err(ptr, format!("{} is not a segment id (a UUID)", quoted(s)));
                    None
                }
            },
            other => {
                self.err(
                    ptr,
                    format!(
                        "takes a segment id (a UUID string), not {}",
                        type_name(other)
                    ),
                );
                None
            }
        }
    }
}
