//! The opaque cursor of lists ordered newest first by `(time, id)` (audit log, jobs,
//! events, timelines): base64url of `<RFC 3339 time>|<id>`. A cursor this API did
//! not give out is a 422 on `/cursor`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

pub fn encode(at: DateTime<Utc>, id: impl std::fmt::Display) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.to_rfc3339()))
}

pub fn decode(cursor: &str) -> ApiResult<(DateTime<Utc>, Uuid)> {
    decode_as(cursor)
}

/// [`decode`] for lists whose id is not a UUID.
pub fn decode_as<I: std::str::FromStr>(cursor: &str) -> ApiResult<(DateTime<Utc>, I)> {
    let bad = || ApiError::invalid("/cursor", "is not a cursor this list gave out");
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?).map_err(|_| bad())?;
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    let at = DateTime::parse_from_rfc3339(at)
        .map_err(|_| bad())?
        .with_timezone(&Utc);
    Ok((at, id.parse().map_err(|_| bad())?))
}

/// A cursor of lists in another order (e.g. best score first): the sort key's
/// parts, base64url of `<part>|<part>|…`.
pub fn encode_key(parts: &[String]) -> String {
    URL_SAFE_NO_PAD.encode(parts.join("|"))
}

/// The `n` parts of a cursor [`encode_key`] made, or a 422 on `/cursor`. Split from
/// the right: only the first part (a sort key such as a name) may hold a `|`.
pub fn decode_key(cursor: &str, n: usize) -> ApiResult<Vec<String>> {
    let bad = || ApiError::invalid("/cursor", "is not a cursor this list gave out");
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?).map_err(|_| bad())?;
    let mut parts: Vec<String> = text.rsplitn(n, '|').map(str::to_string).collect();
    if parts.len() != n {
        return Err(bad());
    }
    parts.reverse();
    Ok(parts)
}

/// An optional RFC 3339 time of a query parameter, or a 422 naming it.
pub fn time_param(field: &str, value: Option<&str>) -> ApiResult<Option<DateTime<Utc>>> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::invalid(
                        &format!("/{field}"),
                        "must be an RFC 3339 time such as 2026-11-22T10:00:00Z",
                    )
                })
        })
        .transpose()
}

/// `?limit=` of these lists: 1 to 500, 50 when absent.
pub fn page_limit(limit: Option<i64>) -> ApiResult<i64> {
    let limit = limit.unwrap_or(50);
    if (1..=500).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::invalid(
            "/limit",
            "must be a whole number from 1 to 500",
        ))
    }
}

/// The cursor of the next page: the last item's, when the page is full.
pub fn next<T, I: std::fmt::Display>(
    items: &[T],
    limit: i64,
    key: impl Fn(&T) -> Option<(DateTime<Utc>, I)>,
) -> Option<String> {
    if items.len() as i64 != limit {
        return None;
    }
    items.last().and_then(key).map(|(at, id)| encode(at, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_a_422_on_cursor() {
        let at = DateTime::parse_from_rfc3339("2026-11-22T10:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = Uuid::new_v4();
        assert_eq!(decode(&encode(at, id)).unwrap(), (at, id));
        for bad in [
            "garbage",
            "",
            &URL_SAFE_NO_PAD.encode("no-bar"),
            &URL_SAFE_NO_PAD.encode("2026|not-a-uuid"),
        ] {
            match decode(bad) {
                Err(ApiError::Invalid(e)) => assert_eq!(e[0].field, "/cursor"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn key_cursors_keep_a_bar_in_their_sort_key() {
        let parts = ["0ada | acme".to_string(), Uuid::nil().to_string()];
        assert_eq!(decode_key(&encode_key(&parts), 2).unwrap(), parts);
        assert!(decode_key(&encode_key(&["0ada".to_string()]), 2).is_err());
    }
}
