//! The syntax tree of a segment definition and its parser: JSON in, a [`Definition`]
//! or every problem found (up to [`MAX_ERRORS`]), each at the RFC 6901 pointer of
//! the bad node. The shapes are documented in docs/SEGMENTS.md and described by
//! [`super::schema::json_schema`].
//!
//! The size of a definition is measured first, without recursion (an explicit
//! stack), so a definition of 10,000 nodes or a deeply nested one is refused at the
//! root before any of it is parsed; the recursive parse below then never goes
//! deeper than [`MAX_DEPTH`].

use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::fields::{Field, one_of};
use super::time::{Moment, Window, quoted};

/// Most nodes (logic nodes and predicates) in one definition.
pub const MAX_NODES: usize = 200;
/// Deepest nesting of `all` / `any` / `not` (the root is depth 1).
pub const MAX_DEPTH: usize = 16;
/// Most errors reported for one definition.
pub const MAX_ERRORS: usize = 50;
/// Longest text value, in characters.
pub const MAX_TEXT_CHARS: usize = 500;
/// Most values in one list (`in`, `has_any`, `has_all`).
pub const MAX_LIST: usize = 100;
/// Largest event count a predicate may compare with.
pub const MAX_COUNT: i64 = 1_000_000;

/// One problem with a definition: where (a JSON pointer into it) and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DefinitionError {
    /// RFC 6901, e.g. `/all/2/event/within`; `""` is the whole definition.
    pub pointer: String,
    pub message: String,
}

impl DefinitionError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> DefinitionError {
        DefinitionError {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.pointer, self.message)
    }
}

/// A parsed, valid definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub root: Node,
}

/// One node: logic over nodes, or a predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    Field(FieldPredicate),
    Identity(IdentityPredicate),
    Event(EventPredicate),
    Outbound(OutboundPredicate),
    /// Membership of another segment (its definition, compiled inline).
    Segment(Uuid),
}

/// `{"field": …, "op": …, "value": …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldPredicate {
    pub field: Field,
    /// The channel of `insight.channel_preference`; `None` for every other field.
    pub channel: Option<&'static str>,
    pub test: Test,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Cmp {
    fn parse(op: &str) -> Option<Cmp> {
        Some(match op {
            "eq" => Cmp::Eq,
            "ne" => Cmp::Ne,
            "lt" => Cmp::Lt,
            "lte" => Cmp::Lte,
            "gt" => Cmp::Gt,
            "gte" => Cmp::Gte,
            _ => return None,
        })
    }

    pub fn sql(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "<>",
            Cmp::Lt => "<",
            Cmp::Lte => "<=",
            Cmp::Gt => ">",
            Cmp::Gte => ">=",
        }
    }

    pub fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Lte => a <= b,
            Cmp::Gt => a > b,
            Cmp::Gte => a >= b,
        }
    }
}

/// A value a field is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Enum(&'static str),
    Int(i64),
    Float(f64),
}

/// A time test: before/after a moment, within/not within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeTest {
    Before(Moment),
    After(Moment),
    Within(Window),
    NotWithin(Window),
}

/// What a field predicate asks of its field.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Exists,
    Missing,
    Cmp(Cmp, Scalar),
    Between(Scalar, Scalar),
    In(Vec<String>),
    Contains(String),
    StartsWith(String),
    Time(TimeTest),
    Has(String),
    HasAny(Vec<String>),
    HasAll(Vec<String>),
}

/// `{"identity": {"channel": …, "verified": …}}`: has such an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPredicate {
    pub channel: Option<&'static str>,
    pub verified: Option<bool>,
}

/// A count test of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountTest {
    Cmp(Cmp, i64),
    Between(i64, i64),
}

impl CountTest {
    /// Whether a person with no matching event passes.
    pub fn holds_for(self, n: i64) -> bool {
        match self {
            CountTest::Cmp(cmp, v) => cmp.holds(n, v),
            CountTest::Between(lo, hi) => lo <= n && n <= hi,
        }
    }
}

/// What an event predicate asks of the matching events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occurrence {
    /// How many there are (in the window, if any). Default: at least one.
    Count {
        within: Option<Window>,
        count: CountTest,
    },
    /// When the first and/or the last of them happened (at least one is set).
    FirstLast {
        first: Option<TimeTest>,
        last: Option<TimeTest>,
    },
}

/// `{"event": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPredicate {
    pub event_type: Option<String>,
    pub channel: Option<&'static str>,
    pub traffic_type: Option<&'static str>,
    pub occurrence: Occurrence,
}

/// `{"outbound": {...}}`: has a message of ours with this outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundPredicate {
    /// `sent` (any message), `opened`, `clicked` or `replied`.
    pub outcome: &'static str,
    pub variant: Option<String>,
    pub channel: Option<&'static str>,
    pub goal_type: Option<String>,
    /// The outcome happened within this window.
    pub within: Option<Window>,
}

impl Definition {
    /// The segments this definition names directly, in order, without repeats.
    pub fn segment_refs(&self) -> Vec<Uuid> {
        let mut out = Vec::new();
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            match node {
                Node::All(v) | Node::Any(v) => stack.extend(v.iter().rev()),
                Node::Not(n) => stack.push(n),
                Node::Segment(id) if !out.contains(id) => out.push(*id),
                _ => {}
            }
        }
        out
    }
}

/// The keys that make a node what it is; a node has exactly one.
const NODE_KEYS: &[&str] = &[
    "all", "any", "not", "field", "identity", "event", "outbound", "segment",
];

/// Parses a definition, reporting every problem found (up to [`MAX_ERRORS`]).
pub fn parse(def: &Value) -> Result<Definition, Vec<DefinitionError>> {
    if let Err(e) = check_size(def) {
        return Err(vec![e]);
    }
    let mut p = Parser { errors: Vec::new() };
    let root = p.node(def, "");
    match root {
        Some(root) if p.errors.is_empty() => Ok(Definition { root }),
        _ => {
            if p.errors.is_empty() {
                p.err("", "the definition is not valid");
            }
            Err(p.errors)
        }
    }
}

/// Counts nodes and depth along `all` / `any` / `not` with an explicit stack,
/// stopping as soon as a limit is passed.
fn check_size(def: &Value) -> Result<(), DefinitionError> {
    let mut nodes = 0usize;
    let mut stack = vec![(def, 1usize)];
    while let Some((v, depth)) = stack.pop() {
        nodes += 1;
        if nodes > MAX_NODES {
            return Err(DefinitionError::new(
                "",
                format!(
                    "the definition has more than {MAX_NODES} nodes; split it into segments and combine them with {{\"segment\": \"<id>\"}}"
                ),
            ));
        }
        if depth > MAX_DEPTH {
            return Err(DefinitionError::new(
                "",
                format!(
                    "the definition nests deeper than {MAX_DEPTH} levels; flatten it (all inside all is one all)"
                ),
            ));
        }
        if let Value::Object(o) = v {
            for key in ["all", "any"] {
                if let Some(Value::Array(items)) = o.get(key) {
                    if items.len() > MAX_NODES {
                        return Err(DefinitionError::new(
                            "",
                            format!(
                                "the definition has more than {MAX_NODES} nodes; split it into segments and combine them with {{\"segment\": \"<id>\"}}"
                            ),
                        ));
                    }
                    stack.extend(items.iter().map(|i| (i, depth + 1)));
                }
            }
            if let Some(inner) = o.get("not") {
                stack.push((inner, depth + 1));
            }
        }
    }
    Ok(())
}

/// RFC 6901: `~` → `~0`, `/` → `~1`.
fn child(pointer: &str, key: &str) -> String {
    format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct Parser {
    errors: Vec<DefinitionError>,
}

impl Parser {
    fn err(&mut self, pointer: &str, message: impl Into<String>) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(DefinitionError::new(pointer, message));
        }
    }

    fn node(&mut self, v: &Value, ptr: &str) -> Option<Node> {
        let Value::Object(o) = v else {
            self.err(
                ptr,
                format!(
                    "a node is an object, not {}: one of {{\"all\": [...]}}, {{\"any\": [...]}}, {{\"not\": {{...}}}}, {{\"field\": ...}}, {{\"identity\": {{...}}}}, {{\"event\": {{...}}}}, {{\"outbound\": {{...}}}} or {{\"segment\": \"<id>\"}}",
                    type_name(v)
                ),
            );
            return None;
        };
        let kinds: Vec<&str> = NODE_KEYS
            .iter()
            .copied()
            .filter(|k| o.contains_key(*k))
            .collect();
        let kind = match kinds.as_slice() {
            [one] => *one,
            [] => {
                self.err(
                    ptr,
                    format!(
                        "a node has exactly one of the keys {}; this one has none",
                        one_of(NODE_KEYS)
                    ),
                );
                return None;
            }
            many => {
                self.err(
                    ptr,
                    format!(
                        "a node has exactly one of the keys {}; this one has {} (nest them in \"all\" or \"any\")",
                        one_of(NODE_KEYS),
                        many.join(" and ")
                    ),
                );
                return None;
            }
        };
        let allowed: &[&str] = if kind == "field" {
            &["field", "op", "value", "channel"]
        } else {
            &[kind]
        };
        self.unknown_keys(o, ptr, allowed, &format!("a {kind} node"));
        let at = child(ptr, kind);
        let inner = &o[kind];
        match kind {
            "all" | "any" => {
                let items = self.nodes(inner, &at, kind)?;
                Some(if kind == "all" {
                    Node::All(items)
                } else {
                    Node::Any(items)
                })
            }
            "not" => Some(Node::Not(Box::new(self.node(inner, &at)?))),
            "field" => self.field(o, ptr).map(Node::Field),
            "identity" => self.identity(inner, &at).map(Node::Identity),
            "event" => self.event(inner, &at).map(Node::Event),
            "outbound" => self.outbound(inner, &at).map(Node::Outbound),
            _ => self.segment(inner, &at).map(Node::Segment),
        }
    }

    fn unknown_keys(&mut self, o: &Map<String, Value>, ptr: &str, allowed: &[&str], what: &str) {
        for key in o.keys() {
            if !allowed.contains(&key.as_str()) {
                self.err(
                    &child(ptr, key),
                    format!(
                        "unknown key {}; {what} takes {}",
                        quoted(key),
                        one_of(allowed)
                    ),
                );
            }
        }
    }

    fn nodes(&mut self, v: &Value, ptr: &str, kind: &str) -> Option<Vec<Node>> {
        let Value::Array(items) = v else {
            self.err(
                ptr,
                format!("\"{kind}\" takes an array of nodes, not {}", type_name(v)),
            );
            return None;
        };
        if items.is_empty() {
            self.err(ptr, format!("\"{kind}\" needs at least one node"));
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.node(item, &child(ptr, &i.to_string())) {
                Some(n) => out.push(n),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn object<'v>(
        &mut self,
        v: &'v Value,
        ptr: &str,
        what: &str,
    ) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(o) => Some(o),
            other => {
                self.err(
                    ptr,
                    format!("{what} takes an object, not {}", type_name(other)),
                );
                None
            }
        }
    }
}

mod predicates;
mod values;
