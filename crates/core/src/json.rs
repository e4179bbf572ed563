//! What a JSON value must be to go into PostgreSQL (`jsonb`, or a numeric column
//! shown through `to_jsonb`) and come back out intact: no NUL character (jsonb cannot
//! hold one) and no number beyond ±[`MAX_NUMBER`]. PostgreSQL stores any JSON number
//! exactly and prints it back in full (`1.7976931348623157e308` becomes 309 digits),
//! and a number that close to the largest double no longer reads back as one, so it
//! would be stored and then break every read of its row. Every write of client JSON
//! checks here first and answers 422 naming the field.

use serde_json::Value;

/// The largest magnitude of a JSON number we store (a little under `f64::MAX`, whose
/// neighbours do not survive the round trip through PostgreSQL's text form).
pub const MAX_NUMBER: f64 = 1e308;

/// Why `value` cannot be stored, and where: `(JSON pointer relative to value ("" for
/// itself), message)`; `None` when it can be.
pub fn unstorable(value: &Value) -> Option<(String, String)> {
    match value {
        Value::String(s) if s.contains('\0') => {
            Some((String::new(), "must not contain a NUL character".into()))
        }
        Value::Number(n) if n.as_f64().is_some_and(|f| f.abs() > MAX_NUMBER) => Some((
            String::new(),
            format!("is a number too large to store: keep numbers within ±{MAX_NUMBER:e}"),
        )),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            unstorable(item).map(|(path, message)| (format!("/{i}{path}"), message))
        }),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                return Some((
                    String::new(),
                    "must not have a NUL character in a key".into(),
                ));
            }
            unstorable(item).map(|(path, message)| (format!("/{}{path}", escape(key)), message))
        }),
        _ => None,
    }
}

/// A key as one JSON pointer segment (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ordinary_json_is_storable() {
        let v = json!({"a": [1, 2.5, -1e300, "x", null, true], "b": {"c": 1.0e308}, "d": u64::MAX});
        assert_eq!(unstorable(&v), None);
    }

    #[test]
    fn a_number_near_the_double_limit_is_named_where_it_is() {
        let v: Value =
            serde_json::from_str(r#"{"a": {"b/c": [0, 1.7976931348623157e308]}}"#).unwrap();
        let (path, message) = unstorable(&v).unwrap();
        assert_eq!(path, "/a/b~1c/1");
        assert!(message.contains("too large"), "{message}");
        assert_eq!(
            unstorable(&json!(-1.5e308)).map(|p| p.0),
            Some(String::new())
        );
    }

    #[test]
    fn nul_characters_are_named() {
        assert_eq!(
            unstorable(&json!({"x": ["ok", "a\u{0}b"]})).map(|p| p.0),
            Some("/x/1".into())
        );
        assert_eq!(
            unstorable(&json!({"a": {"k\u{0}": 1}})).map(|p| p.0),
            Some("/a".into())
        );
    }
}
