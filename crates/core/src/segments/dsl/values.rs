//! The values of predicates: text, lists, numbers, enum values, windows and moments,
//! each checked where it stands so its error carries its own pointer.

use serde_json::Value;

use super::super::fields::one_of;
use super::super::time::{Moment, Window, quoted};
use super::{MAX_LIST, MAX_TEXT_CHARS, Parser, Scalar, child, type_name};

impl Parser {
    /// A non-empty string of at most [`MAX_TEXT_CHARS`], without NUL (which
    /// PostgreSQL text cannot hold).
    pub(super) fn text(&mut self, v: &Value, ptr: &str) -> Option<String> {
        let Value::String(s) = v else {
            self.err(ptr, format!("must be a string, not {}", type_name(v)));
            return None;
        };
        if s.is_empty() {
            self.err(ptr, "must not be empty");
            return None;
        }
        if s.chars().count() > MAX_TEXT_CHARS {
            self.err(ptr, format!("must be at most {MAX_TEXT_CHARS} characters"));
            return None;
        }
        if s.contains('\0') {
            self.err(ptr, "must not contain the NUL character (\\u0000)");
            return None;
        }
        Some(s.clone())
    }

    /// A list of 1 to [`MAX_LIST`] items, each read by `item`.
    pub(super) fn list<T>(
        &mut self,
        v: &Value,
        ptr: &str,
        mut item: impl FnMut(&mut Parser, &Value, &str) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Value::Array(items) = v else {
            self.err(ptr, format!("must be an array, not {}", type_name(v)));
            return None;
        };
        if items.is_empty() || items.len() > MAX_LIST {
            self.err(ptr, format!("must hold 1 to {MAX_LIST} values"));
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, it) in items.iter().enumerate() {
            match item(self, it, &child(ptr, &i.to_string())) {
                Some(x) => out.push(x),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    pub(super) fn texts(&mut self, v: &Value, ptr: &str) -> Option<Vec<String>> {
        self.list(v, ptr, |p, it, at| p.text(it, at))
    }

    /// One of `allowed`, exactly as written there.
    pub(super) fn choice(
        &mut self,
        v: &Value,
        ptr: &str,
        allowed: &'static [&'static str],
    ) -> Option<&'static str> {
        let Value::String(s) = v else {
            self.err(
                ptr,
                format!("must be one of {}, not {}", one_of(allowed), type_name(v)),
            );
            return None;
        };
        let found = allowed.iter().find(|a| **a == s.as_str()).copied();
        if found.is_none() {
            self.err(
                ptr,
                format!(
                    "{} is not allowed; use one of {}",
                    quoted(s),
                    one_of(allowed)
                ),
            );
        }
        found
    }

    pub(super) fn choices(
        &mut self,
        v: &Value,
        ptr: &str,
        allowed: &'static [&'static str],
    ) -> Option<Vec<String>> {
        self.list(v, ptr, |p, it, at| {
            p.choice(it, at, allowed).map(str::to_string)
        })
    }

    /// A JSON number; a whole one (fitting 32 bits, as the columns) when `whole`.
    pub(super) fn number(&mut self, v: &Value, ptr: &str, whole: bool) -> Option<Scalar> {
        let Value::Number(n) = v else {
            self.err(ptr, format!("must be a number, not {}", type_name(v)));
            return None;
        };
        if whole {
            match n.as_i64().filter(|i| i32::try_from(*i).is_ok()) {
                Some(i) => Some(Scalar::Int(i)),
                None => {
                    self.err(
                        ptr,
                        "must be a whole number (a 32-bit integer, no fraction)",
                    );
                    None
                }
            }
        } else {
            match n.as_f64().filter(|f| f.is_finite()) {
                Some(f) => Some(Scalar::Float(f)),
                None => {
                    self.err(ptr, "must be a finite number");
                    None
                }
            }
        }
    }

    /// `[low, high]` with low ≤ high.
    pub(super) fn range(&mut self, v: &Value, ptr: &str, whole: bool) -> Option<(Scalar, Scalar)> {
        let pair = match v {
            Value::Array(items) if items.len() == 2 => items,
            other => {
                self.err(
                    ptr,
                    format!("\"between\" takes [low, high], not {}", type_name(other)),
                );
                return None;
            }
        };
        let lo = self.number(&pair[0], &child(ptr, "0"), whole);
        let hi = self.number(&pair[1], &child(ptr, "1"), whole);
        let (lo, hi) = (lo?, hi?);
        let ordered = match (&lo, &hi) {
            (Scalar::Int(a), Scalar::Int(b)) => a <= b,
            (Scalar::Float(a), Scalar::Float(b)) => a <= b,
            _ => true,
        };
        if !ordered {
            self.err(ptr, "low must not be above high");
            return None;
        }
        Some((lo, hi))
    }

    pub(super) fn window(&mut self, v: &Value, ptr: &str) -> Option<Window> {
        let Value::String(s) = v else {
            self.err(
                ptr,
                format!(
                    "a window is a string like \"last 30 days\", not {}",
                    type_name(v)
                ),
            );
            return None;
        };
        Window::parse_last(s).map_err(|e| self.err(ptr, e)).ok()
    }

    pub(super) fn moment(&mut self, v: &Value, ptr: &str) -> Option<Moment> {
        let Value::String(s) = v else {
            self.err(
                ptr,
                format!(
                    "a time is a string (\"2026-01-31T00:00:00Z\" or \"90 days ago\"), not {}",
                    type_name(v)
                ),
            );
            return None;
        };
        Moment::parse(s).map_err(|e| self.err(ptr, e)).ok()
    }

    pub(super) fn boolean(&mut self, v: &Value, ptr: &str) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            other => {
                self.err(
                    ptr,
                    format!("must be true or false, not {}", type_name(other)),
                );
                None
            }
        }
    }
}
