//! Validated inputs, parsed once at the edge: a new item, a page of the list, an item id.
//!
//! Nothing here knows about HTTP, the database or AWS; each rule exists because the column or
//! PostgreSQL itself would otherwise reject the value with an error the client cannot act on.

use serde_json::Value;

/// `items.name` and `items.value` are `VARCHAR(255)`: PostgreSQL counts characters, not bytes.
pub const NAME_MAX_CHARS: usize = 255;
pub const VALUE_MAX_CHARS: usize = 255;
/// `description` is `TEXT` (unbounded), but an item description beyond this is abuse.
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;
pub const LIMIT_DEFAULT: i64 = 100;
/// The original had no upper bound; a million-row page would hold a pool connection for long.
pub const LIMIT_MAX: i64 = 1000;

/// Why client input was refused; the text is shown to the client as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

fn invalid(msg: impl Into<String>) -> ValidationError {
    ValidationError(msg.into())
}

/// A stored item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: i32,
    pub name: String,
    pub description: Option<String>,
    pub value: Option<String>,
    pub created_at: Option<chrono::NaiveDateTime>,
    pub updated_at: Option<chrono::NaiveDateTime>,
}

/// An item as a client may create it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    pub name: String,
    pub description: Option<String>,
    pub value: Option<String>,
}

impl NewItem {
    /// Validates a parsed JSON body. Unknown fields are ignored, as the original did.
    pub fn from_json(body: &Value) -> Result<Self, ValidationError> {
        let Value::Object(fields) = body else {
            return Err(invalid("request body must be a JSON object"));
        };
        let name = match fields.get("name") {
            None | Some(Value::Null) => return Err(invalid("name is required")),
            Some(Value::String(s)) => s,
            Some(_) => return Err(invalid("name must be a string")),
        };
        if name.trim().is_empty() {
            return Err(invalid("name must not be blank"));
        }
        check_text("name", name, NAME_MAX_CHARS)?;
        // The original stored "" for a missing description or value and NULL for an explicit
        // null; clients may rely on either, so both are kept.
        let description = optional_text(fields.get("description"), "description")?;
        if let Some(d) = &description {
            check_text("description", d, DESCRIPTION_MAX_CHARS)?;
        }
        let value = optional_text(fields.get("value"), "value")?;
        if let Some(v) = &value {
            check_text("value", v, VALUE_MAX_CHARS)?;
        }
        Ok(Self {
            name: name.clone(),
            description,
            value,
        })
    }
}

fn optional_text(field: Option<&Value>, name: &str) -> Result<Option<String>, ValidationError> {
    match field {
        None => Ok(Some(String::new())),
        Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{name} must be a string or null"))),
    }
}

fn check_text(field: &str, text: &str, max_chars: usize) -> Result<(), ValidationError> {
    // PostgreSQL text cannot hold NUL; it would fail the insert with a server error.
    if text.contains('\0') {
        return Err(invalid(format!("{field} must not contain NUL characters")));
    }
    if text.chars().count() > max_chars {
        return Err(invalid(format!(
            "{field} must be at most {max_chars} characters"
        )));
    }
    Ok(())
}

/// One page of the item list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            limit: LIMIT_DEFAULT,
            offset: 0,
        }
    }
}

impl Page {
    /// Reads `limit` and `offset` from decoded query pairs; other parameters are ignored. A
    /// parameter given twice is refused rather than guessed at.
    pub fn from_query<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ValidationError> {
        let mut limit = None;
        let mut offset = None;
        for (key, value) in pairs {
            let slot = match key {
                "limit" => &mut limit,
                "offset" => &mut offset,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(invalid(format!("{key} must be given at most once")));
            }
        }
        let mut page = Self::default();
        if let Some(raw) = limit {
            page.limit = raw
                .parse::<i64>()
                .ok()
                .filter(|l| (1..=LIMIT_MAX).contains(l))
                .ok_or_else(|| {
                    invalid(format!("limit must be an integer from 1 to {LIMIT_MAX}"))
                })?;
        }
        if let Some(raw) = offset {
            page.offset = raw
                .parse::<i64>()
                .ok()
                .filter(|o| *o >= 0)
                .ok_or_else(|| invalid("offset must be an integer of 0 or more"))?;
        }
        Ok(page)
    }
}

/// An item id as it appears in a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemRef {
    /// A well-formed id that can exist (`items.id` is a positive `SERIAL`, an `int4`).
    Id(i32),
    /// A well-formed id that no item can have (zero, or beyond `int4`): simply not found.
    CannotExist,
}

impl ItemRef {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("item id must be a positive integer"));
        }
        Ok(match raw.parse::<i32>() {
            Ok(id) if id > 0 => Self::Id(id),
            _ => Self::CannotExist,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn new_item_rules() {
        let long = |n: usize| "é".repeat(n);
        let cases: Vec<(Value, Result<(), &str>, &str)> = vec![
            (json!({"name": "a"}), Ok(()), "minimal"),
            (
                json!({"name": long(255)}),
                Ok(()),
                "255 two-byte chars fit VARCHAR(255)",
            ),
            (
                json!({"name": long(256)}),
                Err("name must be at most 255 characters"),
                "256 chars",
            ),
            (json!({}), Err("name is required"), "missing name"),
            (json!({"name": null}), Err("name is required"), "null name"),
            (
                json!({"name": 5}),
                Err("name must be a string"),
                "numeric name",
            ),
            (
                json!({"name": "  \t"}),
                Err("name must not be blank"),
                "blank name",
            ),
            (
                json!({"name": "a\u{0}b"}),
                Err("name must not contain NUL characters"),
                "NUL",
            ),
            (
                json!({"name": "a", "value": long(256)}),
                Err("value must be at most 255 characters"),
                "long value",
            ),
            (
                json!({"name": "a", "value": 3}),
                Err("value must be a string or null"),
                "numeric value",
            ),
            (
                json!({"name": "a", "description": "x".repeat(10_001)}),
                Err("description must be at most 10000 characters"),
                "long description",
            ),
            (
                json!({"name": "a", "description": "x".repeat(10_000)}),
                Ok(()),
                "10k description",
            ),
            (
                json!({"name": "a", "description": ["x"]}),
                Err("description must be a string or null"),
                "array description",
            ),
            (
                json!({"name": "a", "description": "\u{0}"}),
                Err("description must not contain NUL characters"),
                "NUL description",
            ),
            (
                json!([1]),
                Err("request body must be a JSON object"),
                "array body",
            ),
            (
                json!("name"),
                Err("request body must be a JSON object"),
                "string body",
            ),
        ];
        for (body, expected, case) in cases {
            let got = NewItem::from_json(&body).map(|_| ()).map_err(|e| e.0);
            assert_eq!(got, expected.map_err(str::to_owned), "case: {case}");
        }
    }

    #[test]
    fn missing_optionals_become_empty_and_null_stays_null() {
        let item = NewItem::from_json(&json!({"name": "n", "value": null})).expect("valid");
        assert_eq!(item.description.as_deref(), Some(""));
        assert_eq!(item.value, None);
    }

    #[test]
    fn page_rules() {
        type Case = (
            Vec<(&'static str, &'static str)>,
            Result<(i64, i64), &'static str>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (vec![], Ok((100, 0)), "defaults"),
            (
                vec![("limit", "1"), ("offset", "0")],
                Ok((1, 0)),
                "lower bounds",
            ),
            (vec![("limit", "1000")], Ok((1000, 0)), "upper bound"),
            (
                vec![("limit", "1001")],
                Err("limit must be an integer from 1 to 1000"),
                "too large",
            ),
            (
                vec![("limit", "0")],
                Err("limit must be an integer from 1 to 1000"),
                "zero",
            ),
            (
                vec![("limit", "-5")],
                Err("limit must be an integer from 1 to 1000"),
                "negative",
            ),
            (
                vec![("limit", "ten")],
                Err("limit must be an integer from 1 to 1000"),
                "word",
            ),
            (
                vec![("limit", "")],
                Err("limit must be an integer from 1 to 1000"),
                "empty",
            ),
            (
                vec![("limit", "1.5")],
                Err("limit must be an integer from 1 to 1000"),
                "fraction",
            ),
            (
                vec![("offset", "-1")],
                Err("offset must be an integer of 0 or more"),
                "negative offset",
            ),
            (
                vec![("offset", "99999999999999999999")],
                Err("offset must be an integer of 0 or more"),
                "overflow",
            ),
            (
                vec![("limit", "5"), ("limit", "6")],
                Err("limit must be given at most once"),
                "twice",
            ),
            (vec![("other", "x")], Ok((100, 0)), "unknown ignored"),
        ];
        for (pairs, expected, case) in cases {
            let got = Page::from_query(pairs)
                .map(|p| (p.limit, p.offset))
                .map_err(|e| e.0);
            assert_eq!(got, expected.map_err(str::to_owned), "case: {case}");
        }
    }

    #[test]
    fn item_refs() {
        assert_eq!(ItemRef::parse("42"), Ok(ItemRef::Id(42)));
        assert_eq!(ItemRef::parse("0"), Ok(ItemRef::CannotExist));
        assert_eq!(ItemRef::parse("99999999999"), Ok(ItemRef::CannotExist));
        assert!(ItemRef::parse("-1").is_err());
        assert!(ItemRef::parse("abc").is_err());
        assert!(ItemRef::parse("").is_err());
        assert!(ItemRef::parse("+1").is_err());
    }
}
