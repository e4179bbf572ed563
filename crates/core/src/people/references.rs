//! Which tables reference a person, read from the database's own foreign keys, held
//! against what merge and data rights handle. A person is referenced directly (a key
//! to `people`) or through their channel records (a key to `contacts` or
//! `instagram_contacts`, which merge moves whole and erase deletes with their
//! children). [`uncovered`] names every reference in the catalog that merge
//! ([`super::merge::HANDLED`]) or export/erase ([`super::rights::PARTS`]) does not
//! cover: a test keeps it empty, so a new table with a person key fails until it is
//! handled.

use sqlx::PgConnection;

/// A foreign key naming a person or one of their channel records.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Reference {
    /// The referencing table (schema-qualified outside `public`).
    pub table: String,
    /// The referencing column (besides `user_id`).
    pub column: String,
    /// `people`, `contacts` or `instagram_contacts`.
    pub target: String,
}

/// Every foreign key in the database to `people`, `contacts` or `instagram_contacts`
/// (partitions left out: their parent is the table), each as its one column besides
/// the tenant's.
pub async fn in_catalog(conn: &mut PgConnection) -> Result<Vec<Reference>, sqlx::Error> {
    sqlx::query_as(
        "SELECT CASE WHEN n.nspname = 'public' THEN c.relname::text ELSE n.nspname || '.' || c.relname END AS table,
                a.attname::text AS column, r.relname::text AS target
           FROM pg_constraint k
           JOIN pg_class c ON c.oid = k.conrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_class r ON r.oid = k.confrelid
           JOIN pg_namespace rn ON rn.oid = r.relnamespace
           JOIN unnest(k.conkey) AS col(num) ON true
           JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = col.num
          WHERE k.contype = 'f' AND rn.nspname = 'public'
            AND r.relname IN ('people', 'contacts', 'instagram_contacts')
            AND a.attname <> 'user_id' AND NOT c.relispartition
          ORDER BY 1, 2, 3",
    )
    .fetch_all(conn)
    .await
}

/// References that are not about the person, each with why.
pub const NOT_ABOUT_THEM: [(&str, &str, &str); 1] = [(
    "contacts",
    "merged_into_id",
    "another mail contact merged into theirs: ON DELETE SET NULL keeps that contact, which may be someone else's",
)];

/// What merge or erase would miss among `refs`, as `"table.column → target: why"`.
pub fn uncovered(refs: &[Reference]) -> Vec<String> {
    let mut out = Vec::new();
    for r in refs {
        if NOT_ABOUT_THEM
            .iter()
            .any(|(t, c, _)| *t == r.table && *c == r.column)
        {
            continue;
        }
        let erased = super::rights::PARTS.iter().any(|(table, about)| {
            *table == r.table && about.reference() == Some((r.column.as_str(), r.target.as_str()))
        });
        if !erased {
            out.push(format!(
                "{}.{} → {}: not in people::rights::PARTS, so export misses it and erase fails or leaves it",
                r.table, r.column, r.target
            ));
        }
        // A channel record's children move with the record; only keys to people move.
        let merged = r.target != "people"
            || r.table == "people"
            || super::merge::HANDLED
                .iter()
                .any(|(table, column)| *table == r.table && *column == r.column);
        if !merged {
            out.push(format!(
                "{}.{} → people: not in people::merge::HANDLED, so a merge would leave it naming the merged person",
                r.table, r.column
            ));
        }
    }
    out
}
