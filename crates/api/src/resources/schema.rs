//! The OpenAPI description of the resources, built from the same catalog as their
//! routes: per resource an `<Name>Out` schema (what reads return), `<Name>In`
//! (create) and `<Name>Patch`, and the five operations.

use crate::domain::{GenericOp, Op};
use everreach_core::resources::{Column, ColumnType, Resource};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder, Schema};

/// `content-items` → `ContentItem`.
fn schema_name(r: &Resource) -> String {
    let camel: String = r
        .path
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    camel
        .strip_suffix('s')
        .filter(|_| !camel.ends_with("ss"))
        .map_or(camel.clone(), str::to_string)
}

/// `t`, or `[t, "null"]` when the column may be null.
fn typed(t: Type, nullable: bool) -> SchemaType {
    if nullable {
        SchemaType::from_iter([t, Type::Null])
    } else {
        SchemaType::Type(t)
    }
}

/// The schema of a column's value as JSON: its type from the column's, and `null`
/// allowed exactly when the column is nullable.
fn column_schema(c: &Column) -> Schema {
    let nullable = !c.not_null;
    let b = ObjectBuilder::new();
    let b = match &c.ty {
        ColumnType::Uuid => b
            .schema_type(typed(Type::String, nullable))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
        ColumnType::Text(max) => b
            .schema_type(typed(Type::String, nullable))
            .max_length(*max),
        ColumnType::Int { min, max } => b
            .schema_type(typed(Type::Integer, nullable))
            .format(Some(SchemaFormat::KnownFormat(if c.pg_type == "bigint" {
                KnownFormat::Int64
            } else {
                KnownFormat::Int32
            })))
            .minimum(Some(*min))
            .maximum(Some(*max)),
        ColumnType::Number => b
            .schema_type(typed(Type::Number, nullable))
            .minimum(Some(-everreach_core::json::MAX_NUMBER))
            .maximum(Some(everreach_core::json::MAX_NUMBER)),
        ColumnType::Bool => b.schema_type(typed(Type::Boolean, nullable)),
        // jsonb holds any JSON value: an object, an array, a string, a number…
        ColumnType::Json => b
            .schema_type(SchemaType::AnyValue)
            .description(Some("any JSON value")),
        ColumnType::Timestamp => b
            .schema_type(typed(Type::String, nullable))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        ColumnType::Date => b
            .schema_type(typed(Type::String, nullable))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
        ColumnType::TextArray => {
            return Schema::Array(
                ArrayBuilder::new()
                    .schema_type(typed(Type::Array, nullable))
                    .items(ObjectBuilder::new().schema_type(Type::String))
                    .build(),
            );
        }
        ColumnType::Enum(labels) => {
            let mut values: Vec<serde_json::Value> = labels
                .iter()
                .map(|l| serde_json::Value::from(l.as_str()))
                .collect();
            if nullable {
                values.push(serde_json::Value::Null);
            }
            b.schema_type(typed(Type::String, nullable))
                .enum_values(Some(values))
        }
        ColumnType::Vector(n) => {
            return Schema::Array(
                ArrayBuilder::new()
                    .schema_type(typed(Type::Array, nullable))
                    .items(ObjectBuilder::new().schema_type(Type::Number))
                    .min_items(Some(*n))
                    .max_items(Some(*n))
                    .build(),
            );
        }
        ColumnType::Other(pg) => b
            .schema_type(typed(Type::String, nullable))
            .description(Some(format!("PostgreSQL {pg} in its text form"))),
    };
    Schema::Object(b.build())
}

fn object_schema<'a>(
    columns: impl Iterator<Item = &'a Column>,
    required: impl Fn(&Column) -> bool,
    closed: bool,
) -> Schema {
    let mut b = ObjectBuilder::new().schema_type(Type::Object);
    for c in columns {
        b = b.property(&c.name, column_schema(c));
        if required(c) {
            b = b.required(&c.name);
        }
    }
    if closed {
        b = b.additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
        ));
    }
    Schema::Object(b.build())
}

fn json_response(description: &str, schema: RefOr<Schema>) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

fn problem(description: &str) -> utoipa::openapi::Response {
    crate::openapi::problem_response(description)
}

fn id_parameter() -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("the row's key; two-column keys are written `a,b`"))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

/// Adds every resource's schemas and operations to `doc`.
pub fn add_to_document(doc: &mut OpenApi, resources: &[Resource], generic: &[GenericOp]) {
    let components = doc.components.get_or_insert_with(Default::default);
    for r in resources {
        let name = schema_name(r);
        // a route's own type named like a generic one would be silently replaced
        for suffix in ["Out", "In", "Patch"] {
            debug_assert!(
                !components.schemas.contains_key(&format!("{name}{suffix}")),
                "a route's schema is named {name}{suffix}, the generic resource's name: rename it (#[schema(as = …)])"
            );
        }
        components.schemas.insert(
            format!("{name}Out"),
            // every shown column is in every row read (null where the row has none)
            RefOr::T(object_schema(r.visible(), |_| true, false)),
        );
        let creatable = r.columns.iter().filter(|c| r.writable_on_create(c));
        components.schemas.insert(
            format!("{name}In"),
            RefOr::T(object_schema(
                creatable,
                |c| c.not_null && !c.has_default,
                true,
            )),
        );
        let patchable = r.columns.iter().filter(|c| r.writable_on_patch(c));
        components.schemas.insert(
            format!("{name}Patch"),
            RefOr::T(object_schema(patchable, |_| false, true)),
        );
    }
    for r in resources {
        let name = schema_name(r);
        let tag = r.path;
        let out = || RefOr::Ref(Ref::from_schema_name(format!("{name}Out")));
        let body = |suffix: &str| {
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(format!("{name}{suffix}"))))
                        .build(),
                )
                .build()
        };
        let list_schema = Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("items", ArrayBuilder::new().items(out()))
                .property(
                    "next_cursor",
                    ObjectBuilder::new()
                        .schema_type(typed(Type::String, true))
                        .description(Some("null on the last page")),
                )
                .required("items")
                .required("next_cursor")
                .build(),
        );
        let query = |n: &str, d: &str, schema: ObjectBuilder| {
            ParameterBuilder::new()
                .name(n)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(d))
                .schema(Some(schema))
                .build()
        };
        let list = OperationBuilder::new()
            .tag(tag)
            .operation_id(Some(op_id("list", r)))
            .summary(Some(format!("List {} (filter with ?field=value)", r.path)))
            .parameter(query(
                "limit",
                "1 to 500, default 50",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(everreach_core::resources::service::MAX_LIMIT)),
            ))
            .parameter(query(
                "cursor",
                "next_cursor of the previous page",
                ObjectBuilder::new().schema_type(Type::String),
            ))
            .response("200", json_response("A page", RefOr::T(list_schema)))
            .response("401", problem("Not signed in"))
            .response("422", problem("A filter, limit or cursor is invalid"))
            .build();
        let create = OperationBuilder::new()
            .tag(tag)
            .operation_id(Some(op_id("create", r)))
            .summary(Some(format!("Create one of {}", r.path)))
            .request_body(Some(body("In")))
            .response("201", json_response("Created", out()))
            .response("401", problem("Not signed in"))
            .response("403", problem("Viewers cannot write"))
            .response("409", problem("A unique value is taken"))
            .response("422", problem("Invalid input; errors name each field"))
            .build();
        let get = OperationBuilder::new()
            .tag(tag)
            .operation_id(Some(op_id("get", r)))
            .parameter(id_parameter())
            .response("200", json_response("The row", out()))
            .response("404", problem("No such row for you"))
            .build();
        let patch = OperationBuilder::new()
            .tag(tag)
            .operation_id(Some(op_id("update", r)))
            .parameter(id_parameter())
            .request_body(Some(body("Patch")))
            .response("200", json_response("Updated", out()))
            .response("404", problem("No such row for you"))
            .response(
                "409",
                problem("The row cannot change in its current state, or a unique value is taken"),
            )
            .response("422", problem("Invalid input; errors name each field"))
            .build();
        let delete = OperationBuilder::new()
            .tag(tag)
            .operation_id(Some(op_id("delete", r)))
            .parameter(id_parameter())
            .response("204", ResponseBuilder::new().description("Deleted").build())
            .response("404", problem("No such row for you"))
            .response(
                "409",
                problem("The row cannot be deleted in its current state"),
            )
            .build();
        let collection = format!("/api/v1/{}", r.path);
        let item = format!("/api/v1/{}/{{id}}", r.path);
        doc.paths
            .add_path_operation(&collection, vec![HttpMethod::Get], list);
        if !super::is_replaced(generic, r.path, Op::Create) {
            doc.paths
                .add_path_operation(&collection, vec![HttpMethod::Post], create);
        }
        doc.paths
            .add_path_operation(&item, vec![HttpMethod::Get], get);
        if !super::is_replaced(generic, r.path, Op::Update) {
            doc.paths
                .add_path_operation(&item, vec![HttpMethod::Patch], patch);
        }
        if !super::is_replaced(generic, r.path, Op::Delete) {
            doc.paths
                .add_path_operation(&item, vec![HttpMethod::Delete], delete);
        }
    }
}

/// Operation ids use the path, not the table (`events` exists in two schemas).
fn op_id(verb: &str, r: &Resource) -> String {
    format!("{verb}_{}", r.path.replace('-', "_"))
}
