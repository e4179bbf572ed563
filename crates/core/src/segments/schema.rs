//! The segment language as a JSON Schema (draft 2020-12, `$defs` with a recursive
//! `$ref`), built from the same allowlist and lists the parser reads, so the two
//! cannot drift. The schema says the shape; the parser also holds what a schema
//! cannot say simply: at most [`MAX_NODES`] nodes and [`MAX_DEPTH`] levels, windows
//! of at most ten years, `between` in order, and referenced segments existing
//! without cycles (at compile time).

use serde_json::{Value, json};

use super::dsl::{MAX_COUNT, MAX_DEPTH, MAX_LIST, MAX_NODES, MAX_TEXT_CHARS};
use super::fields::{CHANNELS, EVENT_CHANNELS, FIELDS, Field, Kind, OUTCOMES, TRAFFIC_TYPES};
use super::time::{AGO_PATTERN, WINDOW_PATTERN};

/// The JSON Schema of a segment definition.
pub fn json_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://everreach.app/schemas/segment-definition.json",
        "title": "Segment definition",
        "description": format!("Who is in a segment (docs/SEGMENTS.md). At most {MAX_NODES} nodes, nested at most {MAX_DEPTH} deep."),
        "$ref": "#/$defs/node",
        "$defs": {
            "node": {
                "oneOf": [
                    {"$ref": "#/$defs/all"}, {"$ref": "#/$defs/any"}, {"$ref": "#/$defs/not"},
                    {"$ref": "#/$defs/field"}, {"$ref": "#/$defs/identity"}, {"$ref": "#/$defs/event"},
                    {"$ref": "#/$defs/outbound"}, {"$ref": "#/$defs/segment"}
                ]
            },
            "all": logic("all", "Every node holds."),
            "any": logic("any", "At least one node holds."),
            "not": {
                "description": "The node does not hold.",
                "type": "object",
                "properties": {"not": {"$ref": "#/$defs/node"}},
                "required": ["not"],
                "additionalProperties": false
            },
            "field": {"description": "A field of the person, their insights or their Instagram contact.", "oneOf": field_variants()},
            "identity": {
                "description": "Has an identity (on this channel, verified or not).",
                "type": "object",
                "properties": {"identity": {
                    "type": "object",
                    "properties": {"channel": {"enum": CHANNELS}, "verified": {"type": "boolean"}},
                    "additionalProperties": false
                }},
                "required": ["identity"],
                "additionalProperties": false
            },
            "event": {
                "description": "Events of theirs: how many (in a window), or when the first/last happened.",
                "type": "object",
                "properties": {"event": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string", "pattern": "^[a-z0-9_.]{1,64}$"},
                        "channel": {"enum": EVENT_CHANNELS},
                        "traffic_type": {"enum": TRAFFIC_TYPES},
                        "within": {"$ref": "#/$defs/window"},
                        "count": {"$ref": "#/$defs/count"},
                        "first": {"$ref": "#/$defs/occurrence"},
                        "last": {"$ref": "#/$defs/occurrence"}
                    },
                    "additionalProperties": false,
                    "not": {"anyOf": [
                        {"required": ["first", "within"]}, {"required": ["first", "count"]},
                        {"required": ["last", "within"]}, {"required": ["last", "count"]}
                    ]}
                }},
                "required": ["event"],
                "additionalProperties": false
            },
            "outbound": {
                "description": "Has a message of ours with this outcome (in the window).",
                "type": "object",
                "properties": {"outbound": {
                    "type": "object",
                    "properties": {
                        "outcome": {"enum": OUTCOMES, "default": "sent"},
                        "variant": {"$ref": "#/$defs/text"},
                        "channel": {"enum": CHANNELS},
                        "goal_type": {"$ref": "#/$defs/text"},
                        "within": {"$ref": "#/$defs/window"}
                    },
                    "additionalProperties": false
                }},
                "required": ["outbound"],
                "additionalProperties": false
            },
            "segment": {
                "description": "Is in another segment (its definition, evaluated now).",
                "type": "object",
                "properties": {"segment": {"type": "string", "format": "uuid"}},
                "required": ["segment"],
                "additionalProperties": false
            },
            "count": {
                "type": "object",
                "oneOf": [
                    {"properties": {"op": {"enum": ["eq", "ne", "lt", "lte", "gt", "gte"]}, "value": {"$ref": "#/$defs/count_value"}}},
                    {"properties": {"op": {"const": "between"}, "value": {"type": "array", "prefixItems": [{"$ref": "#/$defs/count_value"}, {"$ref": "#/$defs/count_value"}], "minItems": 2, "maxItems": 2}}}
                ],
                "required": ["op", "value"],
                "properties": {"op": true, "value": true},
                "additionalProperties": false
            },
            "count_value": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
            "occurrence": {
                "type": "object",
                "oneOf": [
                    {"properties": {"op": {"enum": ["before", "after"]}, "value": {"$ref": "#/$defs/moment"}}},
                    {"properties": {"op": {"enum": ["within", "not_within"]}, "value": {"$ref": "#/$defs/window"}}}
                ],
                "required": ["op", "value"],
                "properties": {"op": true, "value": true},
                "additionalProperties": false
            },
            "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARS, "pattern": "^[^\\u0000]*$"},
            "texts": {"type": "array", "items": {"$ref": "#/$defs/text"}, "minItems": 1, "maxItems": MAX_LIST},
            "window": {"type": "string", "pattern": WINDOW_PATTERN, "description": "A window back from now, at most ten years: \"last 30 days\"."},
            "moment": {"type": "string", "anyOf": [{"format": "date-time"}, {"pattern": AGO_PATTERN}], "description": "RFC 3339, or \"90 days ago\" (at most ten years)."}
        }
    })
}

fn logic(key: &str, description: &str) -> Value {
    json!({
        "description": description,
        "type": "object",
        "properties": {key: {"type": "array", "minItems": 1, "maxItems": MAX_NODES, "items": {"$ref": "#/$defs/node"}}},
        "required": [key],
        "additionalProperties": false
    })
}

/// One object schema per (group of fields, group of operators).
fn field_variants() -> Value {
    let names = |pick: &dyn Fn(Field) -> bool| -> Vec<&str> {
        FIELDS
            .iter()
            .filter(|(_, f)| pick(*f))
            .map(|(n, _)| *n)
            .collect()
    };
    let text = names(&|f| f.kind() == Kind::Text);
    let integer = names(&|f| f.kind() == Kind::Integer);
    let number = names(&|f| f.kind() == Kind::Number && f != Field::ChannelPreference);
    let time = names(&|f| f.kind() == Kind::Time);
    let keys = names(&|f| f.kind() == Kind::Keys);
    let cmp = ["eq", "ne", "lt", "lte", "gt", "gte"];
    let int = json!({"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX});
    let num = json!({"type": "number"});
    let pair =
        |v: &Value| json!({"type": "array", "prefixItems": [v, v], "minItems": 2, "maxItems": 2});
    let mut out = vec![
        variant(
            &text,
            &["eq", "ne", "contains", "starts_with"],
            Some(json!({"$ref": "#/$defs/text"})),
        ),
        variant(&text, &["in"], Some(json!({"$ref": "#/$defs/texts"}))),
        variant(&integer, &cmp, Some(int.clone())),
        variant(&integer, &["between"], Some(pair(&int))),
        variant(&number, &cmp, Some(num.clone())),
        variant(&number, &["between"], Some(pair(&num))),
        variant(
            &time,
            &["before", "after"],
            Some(json!({"$ref": "#/$defs/moment"})),
        ),
        variant(
            &time,
            &["within", "not_within"],
            Some(json!({"$ref": "#/$defs/window"})),
        ),
        variant(&keys, &["has"], Some(json!({"$ref": "#/$defs/text"}))),
        variant(
            &keys,
            &["has_any", "has_all"],
            Some(json!({"$ref": "#/$defs/texts"})),
        ),
    ];
    let no_value: Vec<&str> = FIELDS
        .iter()
        .filter(|(_, f)| !matches!(f.kind(), Kind::Keys) && *f != Field::ChannelPreference)
        .map(|(n, _)| *n)
        .collect();
    out.push(variant(&no_value, &["exists", "missing"], None));
    let mut lists: Vec<&'static [&'static str]> = Vec::new();
    for (_, f) in FIELDS {
        if let Kind::Enum(list) = f.kind()
            && !lists.contains(&list)
        {
            lists.push(list);
        }
    }
    for list in lists {
        let fields = names(&|f| f.kind() == Kind::Enum(list));
        out.push(variant(&fields, &["eq", "ne"], Some(json!({"enum": list}))));
        out.push(variant(
            &fields,
            &["in"],
            Some(json!({"type": "array", "items": {"enum": list}, "minItems": 1, "maxItems": MAX_LIST})),
        ));
    }
    for (ops, value) in [
        (&cmp[..], Some(num.clone())),
        (&["between"][..], Some(pair(&num))),
        (&["exists", "missing"][..], None),
    ] {
        let mut v = variant(&["insight.channel_preference"], ops, value);
        v["properties"]["channel"] = json!({"enum": EVENT_CHANNELS});
        if let Some(required) = v["required"].as_array_mut() {
            required.push(json!("channel"));
        }
        out.push(v);
    }
    Value::Array(out)
}

fn variant(fields: &[&str], ops: &[&str], value: Option<Value>) -> Value {
    let mut properties = json!({"field": {"enum": fields}, "op": {"enum": ops}});
    let mut required = vec!["field", "op"];
    if let Some(value) = value {
        properties["value"] = value;
        required.push("value");
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false
    })
}

/// The name of the definition's schema among an OpenAPI document's components.
pub const OPENAPI_NAME: &str = "SegmentDefinition";

/// The schema as OpenAPI 3.1 components (whose schemas are JSON Schema 2020-12):
/// [`OPENAPI_NAME`] and one `SegmentDefinition<Def>` per `$defs` entry, every
/// `#/$defs/x` reference rewritten to `#/components/schemas/SegmentDefinition<X>`.
pub fn openapi_components() -> serde_json::Map<String, Value> {
    fn component(def: &str) -> String {
        let mut name = String::from(OPENAPI_NAME);
        for part in def.split('_') {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                name.extend(first.to_uppercase());
                name.push_str(chars.as_str());
            }
        }
        name
    }
    fn rewrite(v: &mut Value) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get_mut("$ref")
                    && let Some(def) = r.strip_prefix("#/$defs/")
                {
                    *r = format!("#/components/schemas/{}", component(def));
                }
                o.values_mut().for_each(rewrite);
            }
            Value::Array(a) => a.iter_mut().for_each(rewrite),
            _ => {}
        }
    }
    let mut schema = json_schema();
    let mut out = serde_json::Map::new();
    if let Some(Value::Object(defs)) = schema.as_object_mut().and_then(|o| o.remove("$defs")) {
        for (name, mut def) in defs {
            rewrite(&mut def);
            out.insert(component(&name), def);
        }
    }
    if let Some(o) = schema.as_object_mut() {
        o.remove("$schema");
        o.remove("$id");
    }
    rewrite(&mut schema);
    out.insert(OPENAPI_NAME.into(), schema);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segments::parse;

    /// The ```json blocks of docs/SEGMENTS.md: every one is a valid definition.
    fn doc_examples() -> Vec<(usize, Value)> {
        let doc = include_str!("../../../../docs/SEGMENTS.md");
        let mut out = Vec::new();
        let mut block: Option<(usize, String)> = None;
        for (n, line) in doc.lines().enumerate() {
            match &mut block {
                None if line.trim_start() == "```json" => block = Some((n + 1, String::new())),
                Some((start, text)) if line.trim_start() == "```" => {
                    let v = serde_json::from_str(text)
                        .unwrap_or_else(|e| panic!("docs/SEGMENTS.md line {start}: not JSON: {e}"));
                    out.push((*start, v));
                    block = None;
                }
                Some((_, text)) => {
                    text.push_str(line);
                    text.push('\n');
                }
                None => {}
            }
        }
        out
    }

    #[test]
    fn every_example_in_the_docs_parses() {
        let examples = doc_examples();
        assert!(
            examples.len() >= 10,
            "the docs show the language by example"
        );
        for (line, v) in examples {
            if let Err(e) = parse(&v) {
                panic!("docs/SEGMENTS.md line {line}: {e:?}");
            }
        }
    }

    #[test]
    fn the_schema_names_every_field_and_every_channel() {
        let text = json_schema().to_string();
        for (name, _) in FIELDS {
            assert!(
                text.contains(&format!("\"{name}\"")),
                "{name} is in the schema"
            );
        }
        assert_eq!(
            json_schema()["$defs"]["identity"]["properties"]["identity"]["properties"]["channel"]["enum"],
            json!(CHANNELS)
        );
    }

    #[test]
    fn the_openapi_components_resolve_among_themselves() {
        let components = openapi_components();
        assert!(components.contains_key("SegmentDefinitionNode"));
        assert!(components.contains_key("SegmentDefinitionCountValue"));
        let all = Value::Object(components.clone());
        let text = all.to_string();
        assert!(!text.contains("$defs"), "{text}");
        let mut stack = vec![&all];
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(o) => {
                    if let Some(Value::String(r)) = o.get("$ref") {
                        let name = r.strip_prefix("#/components/schemas/").unwrap();
                        assert!(components.contains_key(name), "{r} resolves");
                    }
                    stack.extend(o.values());
                }
                Value::Array(a) => stack.extend(a),
                _ => {}
            }
        }
    }

    #[test]
    fn every_reference_in_the_schema_resolves() {
        let schema = json_schema();
        let mut stack = vec![&schema];
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(o) => {
                    if let Some(Value::String(r)) = o.get("$ref") {
                        let name = r.strip_prefix("#/$defs/").unwrap();
                        assert!(schema["$defs"].get(name).is_some(), "{r} resolves");
                    }
                    stack.extend(o.values());
                }
                Value::Array(a) => stack.extend(a),
                _ => {}
            }
        }
    }
}
