//! Checks a JSON body against a resource's columns before any SQL runs, so every
//! mistake comes back at once, each naming its field.

use serde_json::{Map, Value};

use super::catalog::{Column, ColumnType, Resource};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Patch,
}

/// `(field as a JSON pointer, message)`.
pub type Problems = Vec<(String, String)>;

/// The problems of `body` as a create or patch of `resource` (empty when it is fine).
pub fn check(resource: &Resource, body: &Map<String, Value>, mode: Mode) -> Problems {
    let mut problems = Vec::new();
    for (name, value) in body {
        let field = format!("/{name}");
        let Some(column) = resource
            .column(name)
            .filter(|c| name != "search_vector" && c.name == *name)
        else {
            problems.push((field, format!("is not a field of {}", resource.path)));
            continue;
        };
        let writable = match mode {
            Mode::Create => resource.writable_on_create(column),
            Mode::Patch => resource.writable_on_patch(column),
        };
        if !writable {
            let why = if resource.key.contains(name) && mode == Mode::Patch {
                "cannot be changed"
            } else {
                "is set by the server"
            };
            problems.push((field, why.into()));
            continue;
        }
        if let Err(message) = check_value(column, value) {
            problems.push((field, message));
        } else if let Some((inside, message)) = crate::json::unstorable(value) {
            // a JSON field (or a number) PostgreSQL would store but not give back
            problems.push((format!("{field}{inside}"), message));
        }
    }
    if mode == Mode::Create {
        for column in &resource.columns {
            let required =
                column.not_null && !column.has_default && resource.writable_on_create(column);
            if required && !body.contains_key(&column.name) {
                problems.push((format!("/{}", column.name), "is required".into()));
            }
        }
    } else if body.is_empty() {
        problems.push(("/".into(), "names no field to change".into()));
    }
    problems
}

/// Whether any key value of a cursor has the wrong type (true: it is bad).
pub fn check_key_values(resource: &Resource, key: &Map<String, Value>) -> bool {
    key.iter().any(|(name, value)| {
        resource
            .column(name)
            .is_none_or(|c| value.is_null() || check_value(c, value).is_err())
    })
}

fn check_value(column: &Column, value: &Value) -> Result<(), String> {
    if value.is_null() {
        return if column.not_null {
            Err("must not be null".into())
        } else {
            Ok(())
        };
    }
    match &column.ty {
        ColumnType::Uuid => match value.as_str() {
            Some(s) if uuid::Uuid::parse_str(s).is_ok() => Ok(()),
            _ => Err("must be a UUID".into()),
        },
        ColumnType::Text(max) => {
            let Some(s) = value.as_str() else {
                return Err("must be a string".into());
            };
            if s.contains('\0') {
                return Err("must not contain NUL characters".into());
            }
            match max {
                Some(n) if s.chars().count() > *n => Err(format!("must be at most {n} characters")),
                _ => Ok(()),
            }
        }
        ColumnType::Int { min, max } => match value.as_i64() {
            Some(n) if n >= *min && n <= *max => Ok(()),
            Some(_) => Err(format!("must be between {min} and {max}")),
            None => Err("must be a whole number".into()),
        },
        ColumnType::Number => {
            if value.is_number() {
                Ok(())
            } else {
                Err("must be a number".into())
            }
        }
        ColumnType::Bool => {
            if value.is_boolean() {
                Ok(())
            } else {
                Err("must be true or false".into())
            }
        }
        ColumnType::Json => Ok(()),
        ColumnType::Timestamp => match value.as_str() {
            Some(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => Ok(()),
            _ => Err("must be an RFC 3339 timestamp such as 2026-01-31T09:00:00Z".into()),
        },
        ColumnType::Date => match value.as_str() {
            Some(s) if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => Ok(()),
            _ => Err("must be a date such as 2026-01-31".into()),
        },
        ColumnType::TextArray => match value.as_array() {
            Some(items)
                if items
                    .iter()
                    .all(|i| i.as_str().is_some_and(|s| !s.contains('\0'))) =>
            {
                Ok(())
            }
            _ => Err("must be an array of strings".into()),
        },
        ColumnType::Enum(labels) => match value.as_str() {
            Some(s) if labels.iter().any(|l| l == s) => Ok(()),
            _ => Err(format!("must be one of {}", labels.join(", "))),
        },
        ColumnType::Vector(n) => match value.as_array() {
            Some(items) if items.len() == *n && items.iter().all(Value::is_number) => Ok(()),
            _ => Err(format!("must be an array of {n} numbers")),
        },
        ColumnType::Other(_) => {
            if value.is_string() {
                Ok(())
            } else {
                Err(format!(
                    "must be a string in {}'s text form",
                    column.pg_type
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;
    use crate::resources::catalog::column_type;

    fn col(name: &str, pg_type: &str, not_null: bool, has_default: bool) -> Column {
        Column {
            name: name.into(),
            pg_type: pg_type.into(),
            ty: column_type(pg_type, "b", vec![]),
            not_null,
            has_default,
            generated: false,
        }
    }

    fn people() -> Resource {
        let mut stage = col("stage", "stage_kind", false, false);
        stage.ty = ColumnType::Enum(vec!["first_touch".into(), "post_win".into()]);
        Resource {
            path: "people",
            qualified: "\"public\".\"people\"".into(),
            table: "people",
            columns: vec![
                col("id", "uuid", true, true),
                col("user_id", "uuid", true, false),
                col("full_name", "character varying(5)", true, false),
                col("score", "integer", false, true),
                col("born", "date", false, false),
                col("tags", "text[]", false, false),
                col("seen_at", "timestamp with time zone", false, false),
                stage,
                col("created_at", "timestamp with time zone", false, true),
            ],
            key: vec!["id".into()],
            constraint_columns: HashMap::new(),
        }
    }

    fn fields(problems: &Problems) -> Vec<&str> {
        problems.iter().map(|(f, _)| f.as_str()).collect()
    }

    #[test]
    fn a_valid_create_has_no_problems() {
        let body = json!({"full_name": "Ada", "score": 3, "born": "1815-12-10", "tags": ["math"], "stage": "post_win",
                          "seen_at": "2026-01-31T09:00:00Z"});
        assert!(check(&people(), body.as_object().unwrap(), Mode::Create).is_empty());
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let body = json!({"score": "3", "born": "10/12/1815", "tags": [1], "stage": "vip", "nickname": "x",
                          "user_id": "00000000-0000-0000-0000-000000000000", "created_at": "2026-01-01T00:00:00Z"});
        let problems = check(&people(), body.as_object().unwrap(), Mode::Create);
        let mut got = fields(&problems);
        got.sort();
        assert_eq!(
            got,
            vec![
                "/born",
                "/created_at",
                "/full_name",
                "/nickname",
                "/score",
                "/stage",
                "/tags",
                "/user_id"
            ]
        );
        let stage = problems.iter().find(|(f, _)| f == "/stage").unwrap();
        assert_eq!(stage.1, "must be one of first_touch, post_win");
        let missing = problems.iter().find(|(f, _)| f == "/full_name").unwrap();
        assert_eq!(missing.1, "is required");
    }

    #[test]
    fn lengths_ranges_nulls_and_keys_are_checked() {
        let r = people();
        let p = check(
            &r,
            json!({"full_name": "Adelaide"}).as_object().unwrap(),
            Mode::Patch,
        );
        assert_eq!(p[0].1, "must be at most 5 characters");
        let p = check(
            &r,
            json!({"score": 3_000_000_000_i64}).as_object().unwrap(),
            Mode::Patch,
        );
        assert!(p[0].1.starts_with("must be between"));
        let p = check(
            &r,
            json!({"full_name": null}).as_object().unwrap(),
            Mode::Patch,
        );
        assert_eq!(p[0].1, "must not be null");
        let p = check(
            &r,
            json!({"id": "00000000-0000-0000-0000-000000000000"})
                .as_object()
                .unwrap(),
            Mode::Patch,
        );
        assert_eq!(p[0].1, "cannot be changed");
        let p = check(&r, json!({}).as_object().unwrap(), Mode::Patch);
        assert_eq!(fields(&p), vec!["/"]);
        let p = check(
            &r,
            json!({"full_name": "a\u{0}b"}).as_object().unwrap(),
            Mode::Patch,
        );
        assert_eq!(p[0].1, "must not contain NUL characters");
    }

    #[test]
    fn json_and_numbers_must_come_back_out_of_the_database() {
        let mut r = people();
        r.columns.push(col("memory", "jsonb", false, false));
        r.columns
            .push(col("ratio", "double precision", false, false));
        let body: Value = serde_json::from_str(
            r#"{"memory": {"a": [1, 1.7976931348623157e308]}, "ratio": -1.7976931348623157e308}"#,
        )
        .unwrap();
        let p = check(&r, body.as_object().unwrap(), Mode::Patch);
        let mut got = fields(&p);
        got.sort();
        assert_eq!(got, vec!["/memory/a/1", "/ratio"]);
        let p = check(
            &r,
            json!({"memory": {"a": 1e300}, "ratio": 0.5})
                .as_object()
                .unwrap(),
            Mode::Patch,
        );
        assert!(p.is_empty(), "{p:?}");
    }
}
