//! Unit tests of the segment language: what parses, where each error points,
//! the limits, the SQL each predicate becomes, values always bound, and cycles.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::dsl::{Cmp, CountTest, MAX_ERRORS, Node, Occurrence, Scalar, Test, TimeTest};
use super::fields::Field;
use super::time::{Unit, Window};
use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn ok(v: Value) -> Definition {
    parse(&v).unwrap_or_else(|e| panic!("{v} should parse: {e:?}"))
}

fn errors(v: Value) -> Vec<DefinitionError> {
    match parse(&v) {
        Ok(d) => panic!("{v} should not parse: {d:?}"),
        Err(e) => e,
    }
}

fn pointers(v: Value) -> Vec<String> {
    errors(v).into_iter().map(|e| e.pointer).collect()
}

fn no_segments(_: Uuid) -> Option<Definition> {
    None
}

fn sql(v: Value) -> Compiled {
    compile(&ok(v), &no_segments, Scope::All, now()).unwrap()
}

fn leaf(def: &Definition) -> &Node {
    &def.root
}

#[test]
fn field_predicates_parse_per_kind() {
    let d = ok(json!({"field": "insight.warmth", "op": "gte", "value": 60}));
    let Node::Field(f) = leaf(&d) else { panic!() };
    assert_eq!(
        (f.field, &f.test),
        (Field::Warmth, &Test::Cmp(Cmp::Gte, Scalar::Float(60.0)))
    );
    let d = ok(json!({"field": "crm.relationship_score", "op": "between", "value": [40, 59]}));
    let Node::Field(f) = leaf(&d) else { panic!() };
    assert_eq!(f.test, Test::Between(Scalar::Int(40), Scalar::Int(59)));
    let d = ok(json!({"field": "insight.last_active", "op": "within", "value": "last 2 weeks"}));
    let Node::Field(f) = leaf(&d) else { panic!() };
    assert_eq!(
        f.test,
        Test::Time(TimeTest::Within(Window {
            n: 2,
            unit: Unit::Weeks
        }))
    );
    let d = ok(json!({"field": "crm.stage", "op": "in", "value": ["fit_repeats", "post_win"]}));
    let Node::Field(f) = leaf(&d) else { panic!() };
    assert_eq!(
        f.test,
        Test::In(vec!["fit_repeats".into(), "post_win".into()])
    );
    for v in [
        json!({"field": "person.company", "op": "contains", "value": "acme"}),
        json!({"field": "person.primary_email", "op": "missing"}),
        json!({"field": "person.created_at", "op": "after", "value": "2026-01-01T00:00:00Z"}),
        json!({"field": "person.created_at", "op": "before", "value": "1 month ago"}),
        json!({"field": "crm.tags", "op": "has_all", "value": ["vip", "founder"]}),
        json!({"field": "crm.fit_signals", "op": "has", "value": "follow_up"}),
        json!({"field": "insight.channel_preference", "channel": "instagram", "op": "gte", "value": 0.5}),
        json!({"field": "insight.best_channel", "op": "eq", "value": "site"}),
    ] {
        ok(v);
    }
}

#[test]
fn other_predicates_parse() {
    let d = ok(
        json!({"event": {"type": "dm_reply", "channel": "instagram", "traffic_type": "paid",
                                "within": "last 30 days", "count": {"op": "lt", "value": 3}}}),
    );
    let Node::Event(e) = leaf(&d) else { panic!() };
    assert_eq!(e.traffic_type, Some("paid"));
    assert_eq!(
        e.occurrence,
        Occurrence::Count {
            within: Some(Window {
                n: 30,
                unit: Unit::Days
            }),
            count: CountTest::Cmp(Cmp::Lt, 3)
        }
    );
    let d = ok(json!({"event": {"type": "dm_reply"}}));
    let Node::Event(e) = leaf(&d) else { panic!() };
    assert_eq!(
        e.occurrence,
        Occurrence::Count {
            within: None,
            count: CountTest::Cmp(Cmp::Gte, 1)
        },
        "at least one by default"
    );
    ok(
        json!({"event": {"first": {"op": "within", "value": "last 7 days"}, "last": {"op": "after", "value": "1 day ago"}}}),
    );
    let d = ok(
        json!({"outbound": {"outcome": "clicked", "variant": "B", "channel": "email", "within": "last 1 month"}}),
    );
    let Node::Outbound(o) = leaf(&d) else {
        panic!()
    };
    assert_eq!((o.outcome, o.variant.as_deref()), ("clicked", Some("B")));
    let d = ok(json!({"identity": {"channel": "linkedin", "verified": true}}));
    assert!(matches!(leaf(&d), Node::Identity(i) if i.verified == Some(true)));
    let id = Uuid::now_v7();
    let d = ok(
        json!({"all": [{"segment": id.to_string()}, {"not": {"any": [{"segment": id.to_string()}, {"identity": {}}]}}]}),
    );
    assert_eq!(d.segment_refs(), vec![id]);
}

#[test]
fn errors_point_at_the_bad_node() {
    let bad = |node: Value| json!({"all": [{"identity": {}}, {"identity": {}}, node]});
    let cases = [
        (
            json!({"field": "person.company", "op": "eq", "value": "x", "extra": 1}),
            "/all/2/extra",
        ),
        (
            json!({"field": "person.nickname", "op": "eq", "value": "x"}),
            "/all/2/field",
        ),
        (
            json!({"field": "person.company", "op": "gte", "value": "x"}),
            "/all/2/op",
        ),
        (
            json!({"field": "person.company", "op": "like", "value": "x"}),
            "/all/2/op",
        ),
        (
            json!({"field": "insight.warmth", "op": "gte", "value": "60"}),
            "/all/2/value",
        ),
        (
            json!({"field": "crm.relationship_score", "op": "gte", "value": 60.5}),
            "/all/2/value",
        ),
        (
            json!({"field": "crm.relationship_score", "op": "between", "value": [60, 40]}),
            "/all/2/value",
        ),
        (
            json!({"field": "crm.stage", "op": "eq", "value": "cold"}),
            "/all/2/value",
        ),
        (
            json!({"field": "insight.activity_state", "op": "in", "value": ["active", "hot"]}),
            "/all/2/value/1",
        ),
        (
            json!({"field": "person.company", "op": "missing", "value": "x"}),
            "/all/2/value",
        ),
        (json!({"field": "person.company", "op": "eq"}), "/all/2"),
        (
            json!({"field": "person.company", "op": "eq", "value": "nul\u{0}"}),
            "/all/2/value",
        ),
        (
            json!({"field": "person.company", "channel": "email", "op": "exists"}),
            "/all/2/channel",
        ),
        (
            json!({"field": "insight.channel_preference", "op": "gt", "value": 0.2}),
            "/all/2",
        ),
        (
            json!({"identity": {"channel": "myspace"}}),
            "/all/2/identity/channel",
        ),
        (
            json!({"identity": {"verified": "yes"}}),
            "/all/2/identity/verified",
        ),
        (
            json!({"event": {"traffic_type": "viral"}}),
            "/all/2/event/traffic_type",
        ),
        (json!({"event": {"type": "DM Reply"}}), "/all/2/event/type"),
        (
            json!({"event": {"within": "last -5 days"}}),
            "/all/2/event/within",
        ),
        (
            json!({"event": {"within": "last 0 days"}}),
            "/all/2/event/within",
        ),
        (json!({"event": {"within": "soon"}}), "/all/2/event/within"),
        (
            json!({"event": {"within": "last 3651 days"}}),
            "/all/2/event/within",
        ),
        (
            json!({"event": {"within": "last 1.5 days"}}),
            "/all/2/event/within",
        ),
        (json!({"event": {"within": 30}}), "/all/2/event/within"),
        (
            json!({"event": {"count": {"op": "gte", "value": -1}}}),
            "/all/2/event/count/value",
        ),
        (
            json!({"event": {"count": {"op": "most", "value": 1}}}),
            "/all/2/event/count/op",
        ),
        (
            json!({"event": {"first": {"op": "within", "value": "last 7 days"}, "within": "last 7 days"}}),
            "/all/2/event",
        ),
        (
            json!({"event": {"last": {"op": "before", "value": "yesterday"}}}),
            "/all/2/event/last/value",
        ),
        (
            json!({"outbound": {"outcome": "bounced"}}),
            "/all/2/outbound/outcome",
        ),
        (
            json!({"outbound": {"variant": ""}}),
            "/all/2/outbound/variant",
        ),
        (json!({"segment": "not-a-uuid"}), "/all/2/segment"),
        (json!({"any": []}), "/all/2/any"),
        (json!({"not": [1]}), "/all/2/not"),
        (
            json!({"all": [{"identity": {}}], "any": [{"identity": {}}]}),
            "/all/2",
        ),
        (json!({"weird/key~": 1}), "/all/2"),
        (json!("everyone"), "/all/2"),
    ];
    for (node, pointer) in cases {
        let found = pointers(bad(node.clone()));
        assert_eq!(found, vec![pointer.to_string()], "{node}");
    }
    let e = errors(json!({"field": "person.company", "op": "gte", "value": "x"}));
    assert!(
        e[0].message
            .contains("eq, ne, in, contains, starts_with, exists or missing"),
        "says which operators: {}",
        e[0].message
    );
    let e = errors(json!({"field": "crm.stage", "op": "eq", "value": "cold"}));
    assert!(
        e[0].message.contains("first_touch"),
        "says which values: {}",
        e[0].message
    );
}

#[test]
fn unknown_keys_are_escaped_in_pointers() {
    let found = pointers(json!({"identity": {"a/b~c": 1}}));
    assert_eq!(found, vec!["/identity/a~1b~0c"]);
}

#[test]
fn every_error_is_reported_up_to_a_cap() {
    let found = pointers(json!({"any": [
        {"field": "person.nope", "op": "eq", "value": 1},
        {"event": {"within": "soon", "traffic_type": "viral"}},
        {"outbound": {"outcome": "bounced"}}
    ]}));
    assert_eq!(
        found,
        vec![
            "/any/0/field",
            "/any/1/event/traffic_type",
            "/any/1/event/within",
            "/any/2/outbound/outcome"
        ]
    );
    let many: Vec<Value> = (0..150)
        .map(|_| json!({"field": "x", "op": "eq", "value": 1}))
        .collect();
    assert_eq!(errors(json!({"any": many})).len(), MAX_ERRORS);
}

#[test]
fn injection_in_field_names_is_an_unknown_field() {
    for name in [
        "person.company'",
        "person.company; DROP TABLE people; --",
        "person.company/*",
        "person.company--",
        "p.company",
        "company",
        "PERSON.COMPANY",
        " person.company",
        "person.company\u{0}",
        "p\u{0435}rson.company",  // Cyrillic е
        "person\u{FF0E}company",  // fullwidth full stop
        "person.company\u{200B}", // zero-width space
    ] {
        let found = pointers(json!({"field": name, "op": "eq", "value": "x"}));
        assert_eq!(found, vec!["/field"], "{name:?}");
    }
    for op in ["eq'", "= ANY", "eq;--", "\u{0435}q"] {
        let found = pointers(json!({"field": "person.company", "op": op, "value": "x"}));
        assert_eq!(found, vec!["/op"], "{op:?}");
    }
}

#[test]
fn values_are_always_bound_never_in_the_sql() {
    let hostile = [
        "x' OR 1=1 --",
        "'; DROP TABLE people; --",
        "/* comment */",
        "a;b",
        "Zoë \u{202E}\u{2028} 💥",
        "\\' OR ''='",
    ];
    for value in hostile {
        for def in [
            json!({"field": "person.company", "op": "eq", "value": value}),
            json!({"field": "person.full_name", "op": "contains", "value": value}),
            json!({"field": "person.role", "op": "in", "value": [value, "x"]}),
            json!({"field": "crm.tags", "op": "has_any", "value": [value]}),
            json!({"field": "crm.fit_signals", "op": "has_all", "value": [value]}),
            json!({"outbound": {"variant": value, "goal_type": value}}),
        ] {
            let c = sql(def.clone());
            assert!(!c.sql.contains(value), "{value:?} not in {}", c.sql);
            assert!(c.sql.is_ascii(), "only our own SQL: {}", c.sql);
            assert!(!c.sql.contains("--") && !c.sql.contains("/*") && !c.sql.contains(';'));
            let bound = format!("{:?}", c.params);
            let escaped = format!("{value:?}");
            let inner = escaped.trim_matches('"');
            assert!(
                bound.contains(inner) || def["op"] == "contains",
                "{value:?} bound: {bound}"
            );
        }
    }
}

#[test]
fn like_metacharacters_match_literally() {
    let c = sql(json!({"field": "person.company", "op": "contains", "value": "50%_OFF\\"}));
    assert_eq!(c.params, vec![Param::Text("%50\\%\\_off\\\\%".into())]);
    let c = sql(json!({"field": "person.company", "op": "starts_with", "value": "Ac"}));
    assert_eq!(c.params, vec![Param::Text("ac%".into())]);
}

#[test]
fn size_limits_fail_fast_at_the_root() {
    let wide: Vec<Value> = (0..10_000).map(|_| json!({"identity": {}})).collect();
    let started = std::time::Instant::now();
    let e = errors(json!({"any": wide}));
    assert!(started.elapsed() < std::time::Duration::from_millis(200));
    assert_eq!((e.len(), e[0].pointer.as_str()), (1, ""));
    assert!(e[0].message.contains("200 nodes"), "{}", e[0].message);

    let items = |n: usize| -> Vec<Value> { (0..n).map(|_| json!({"identity": {}})).collect() };
    ok(json!({"all": items(199)}));
    assert_eq!(pointers(json!({"all": items(200)})), vec![""]);

    let nested = |depth: usize| {
        let mut v = json!({"identity": {}});
        for _ in 1..depth {
            v = json!({"not": v});
        }
        v
    };
    ok(nested(16));
    assert_eq!(pointers(nested(17)), vec![""]);
    // far deeper than serde_json would ever read from text: still no recursion
    let e = errors(nested(2_000));
    assert!(e[0].message.contains("deeper than 16"), "{}", e[0].message);
}

#[test]
fn windows_are_strict() {
    for good in [
        "last 1 day",
        "last 30 days",
        "last 90 minutes",
        "last 24 hours",
        "last 52 weeks",
        "last 6 months",
        "last 3650 days",
    ] {
        assert!(Window::parse_last(good).is_ok(), "{good}");
    }
    for bad in [
        "last -5 days",
        "last 0 days",
        "soon",
        "last 30",
        "last 30 day s",
        "Last 30 days",
        "last  30 days",
        "last +5 days",
        "last 05 days",
        "last 30 years",
        "last 3651 days",
        "last 522 weeks",
        "last 121 months",
        "last 99999999999 days",
        "last ３０ days",
        " last 30 days",
        "last 30 days ",
    ] {
        assert!(Window::parse_last(bad).is_err(), "{bad}");
    }
    let w = Window::parse_last("last 30 days").unwrap();
    assert_eq!(w.start(now()), now() - Duration::days(30));
    let m = Window::parse_last("last 1 month").unwrap();
    assert_eq!(
        m.start(now()),
        Utc.with_ymd_and_hms(2026, 10, 22, 12, 0, 0).unwrap()
    );
}

#[test]
fn the_warm_instagram_example_compiles_to_one_keyed_query() {
    let c = sql(json!({"all": [
        {"identity": {"channel": "instagram"}},
        {"field": "insight.warmth", "op": "gte", "value": 60},
        {"field": "insight.last_active", "op": "within", "value": "last 30 days"}
    ]}));
    assert_eq!(
        c.sql,
        "SELECT p.id FROM people p WHERE p.user_id = $1 AND (\
         EXISTS (SELECT 1 FROM identities d WHERE d.user_id = p.user_id AND d.person_id = p.id AND d.channel = $2) AND \
         EXISTS (SELECT 1 FROM person_insights i WHERE i.user_id = p.user_id AND i.person_id = p.id \
         AND i.warmth_score >= $3::numeric AND i.last_active_at >= $4))"
    );
    assert_eq!(
        c.params,
        vec![
            Param::Text("instagram".into()),
            Param::Float(60.0),
            Param::Time(now() - Duration::days(30))
        ]
    );
    assert_eq!(
        c.count_sql(),
        c.sql
            .replacen("SELECT p.id FROM", "SELECT count(*) FROM", 1)
    );
}

#[test]
fn person_fields_stay_two_valued_under_not() {
    let c = sql(json!({"not": {"field": "person.company", "op": "eq", "value": "Acme"}}));
    assert!(
        c.sql
            .ends_with("AND NOT (p.company IS NOT NULL AND p.company = $2)"),
        "{}",
        c.sql
    );
    let c = sql(json!({"field": "person.company", "op": "ne", "value": "Acme"}));
    assert!(
        c.sql
            .ends_with("AND NOT (p.company IS NOT NULL AND p.company = $2)"),
        "{}",
        c.sql
    );
    let c = sql(json!({"field": "insight.activity_state", "op": "ne", "value": "dormant"}));
    assert!(
        c.sql
            .contains("AND NOT EXISTS (SELECT 1 FROM person_insights i"),
        "{}",
        c.sql
    );
    let c = sql(json!({"field": "crm.stage", "op": "missing"}));
    assert!(c.sql.contains("NOT EXISTS (SELECT 1 FROM instagram_contacts c WHERE c.user_id = p.user_id AND c.person_id = p.id AND c.relationship_stage IS NOT NULL)"), "{}", c.sql);
}

#[test]
fn counts_that_zero_passes_include_people_without_events() {
    let count = |c: Value| sql(json!({"event": {"type": "dm_reply", "count": c}})).sql;
    assert!(
        count(json!({"op": "gte", "value": 1}))
            .contains("AND EXISTS (SELECT 1 FROM person_events e WHERE e.user_id = p.user_id")
    );
    assert!(
        count(json!({"op": "eq", "value": 0}))
            .contains("AND NOT EXISTS (SELECT 1 FROM person_events e WHERE e.user_id = p.user_id")
    );
    let lt = count(json!({"op": "lt", "value": 3}));
    assert!(lt.contains("AND NOT EXISTS (SELECT 1 FROM (SELECT e.person_id FROM person_events e WHERE e.user_id = $1"), "{lt}");
    assert!(
        lt.contains("HAVING NOT (count(*) < $3)) g WHERE g.person_id = p.id)"),
        "{lt}"
    );
    let gte = count(json!({"op": "gte", "value": 3}));
    assert!(
        gte.contains("AND EXISTS (SELECT 1 FROM (SELECT")
            && gte.contains("HAVING count(*) >= $3) g"),
        "{gte}"
    );
    let between = count(json!({"op": "between", "value": [0, 2]}));
    assert!(
        between.contains("HAVING NOT (count(*) BETWEEN $3 AND $4)"),
        "{between}"
    );
}

#[test]
fn a_scope_of_people_restricts_the_query_and_the_grouped_counts() {
    let ids = vec![Uuid::now_v7(), Uuid::now_v7()];
    let def = ok(json!({"event": {"count": {"op": "gte", "value": 2}}}));
    let c = compile(&def, &no_segments, Scope::People(ids.clone()), now()).unwrap();
    assert!(
        c.sql
            .starts_with("SELECT p.id FROM people p WHERE p.user_id = $1 AND p.id = ANY($2) AND "),
        "{}",
        c.sql
    );
    assert!(c.sql.contains("e.person_id = ANY($2)"), "{}", c.sql);
    assert_eq!(c.params[0], Param::UuidArray(ids));
}

#[test]
fn first_and_last_occurrences() {
    let c = sql(
        json!({"event": {"type": "dm_reply", "first": {"op": "within", "value": "last 30 days"}}}),
    );
    assert!(c.sql.contains("AND (EXISTS (SELECT 1 FROM person_events e WHERE e.user_id = p.user_id AND e.person_id = p.id AND e.event_type = $2 AND e.occurred_at IS NOT NULL) AND NOT EXISTS (SELECT 1 FROM person_events e WHERE e.user_id = p.user_id AND e.person_id = p.id AND e.event_type = $2 AND e.occurred_at IS NOT NULL AND e.occurred_at < $3))"), "{}", c.sql);
    let c = sql(json!({"event": {"last": {"op": "not_within", "value": "last 90 days"}}}));
    assert!(c.sql.contains("AND NOT EXISTS (SELECT 1 FROM person_events e WHERE e.user_id = p.user_id AND e.person_id = p.id AND e.occurred_at IS NOT NULL AND e.occurred_at >= $2)"), "{}", c.sql);
    assert_eq!(c.params, vec![Param::Time(now() - Duration::days(90))]);
}

#[test]
fn other_segments_are_inlined_and_cycles_refused() {
    let (a, b, c_id, d) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let stored = move |id: Uuid| -> Option<Definition> {
        let v = if id == a {
            json!({"all": [{"identity": {}}, {"segment": b.to_string()}]})
        } else if id == b {
            json!({"any": [{"identity": {"channel": "email"}}, {"segment": a.to_string()}]})
        } else if id == c_id {
            json!({"field": "crm.tags", "op": "has", "value": "vip"})
        } else if id == d {
            json!({"all": [{"segment": c_id.to_string()}, {"not": {"segment": c_id.to_string()}}]})
        } else {
            return None;
        };
        parse(&v).ok()
    };
    // A → B → A, seen from a new definition naming A
    let def = ok(json!({"not": {"segment": a.to_string()}}));
    let e = compile(&def, &stored, Scope::All, now()).unwrap_err();
    assert_eq!(e.pointer, "/not/segment");
    assert!(
        e.message.contains(&format!("{a} → {b} → {a}")),
        "{}",
        e.message
    );
    // A names itself: saving A with a definition that names A
    let e = compile_segment(
        Some(c_id),
        &ok(json!({"any": [{"identity": {}}, {"segment": c_id.to_string()}]})),
        &stored,
        Scope::All,
        now(),
    )
    .unwrap_err();
    assert_eq!(e.pointer, "/any/1/segment");
    assert!(
        e.message.contains(&format!("{c_id} → {c_id}")),
        "{}",
        e.message
    );
    // a diamond (D names C twice) is not a cycle, and C is inlined
    let compiled = compile(
        &ok(json!({"segment": d.to_string()})),
        &stored,
        Scope::All,
        now(),
    )
    .unwrap();
    assert!(
        compiled.sql.contains("c.tags @> ARRAY[$2]::text[]")
            && compiled.sql.contains("c.tags @> ARRAY[$3]::text[]"),
        "{}",
        compiled.sql
    );
    assert!(
        !compiled.sql.contains("segment_members"),
        "never reads a stale materialisation"
    );
    let missing = Uuid::now_v7();
    let e = compile(
        &ok(json!({"all": [{"identity": {}}, {"segment": missing.to_string()}]})),
        &stored,
        Scope::All,
        now(),
    )
    .unwrap_err();
    assert_eq!(e.pointer, "/all/1/segment");
    assert!(e.message.contains("there is no segment"));
}

#[test]
fn inlining_that_explodes_is_refused() {
    // each level names the next twice: 2^12 copies of the last one
    let ids: Vec<Uuid> = (0..13).map(|_| Uuid::now_v7()).collect();
    let chain = ids.clone();
    let stored = move |id: Uuid| -> Option<Definition> {
        let i = chain.iter().position(|x| *x == id)?;
        let v = match chain.get(i + 1) {
            Some(next) => {
                json!({"any": [{"segment": next.to_string()}, {"not": {"segment": next.to_string()}}]})
            }
            None => json!({"identity": {}}),
        };
        parse(&v).ok()
    };
    let e = compile(
        &ok(json!({"segment": ids[0].to_string()})),
        &stored,
        Scope::All,
        now(),
    )
    .unwrap_err();
    assert_eq!(e.pointer, "/segment");
}
