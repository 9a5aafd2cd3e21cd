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

    mod properties {
        //! The rules above as properties over generated input: whatever arrives, validation
        //! answers (never panics), and it accepts exactly what the columns can store.
        use super::*;
        use proptest::prelude::*;

        /// Text that probes every rule: lengths around the limits, multi-byte characters,
        /// NUL, whitespace only.
        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                "\\PC{0,20}",
                "[ \t\n]{0,5}",
                "[a\\x00é]{0,5}",
                (250usize..260, "[aé😀]").prop_map(|(n, c)| c.repeat(n)),
                (9_995usize..10_005).prop_map(|n| "d".repeat(n)),
            ]
        }

        /// Any JSON value, nested a little.
        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                text().prop_map(Value::from),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    prop::collection::vec((text(), inner), 0..4)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect())),
                ]
            })
        }

        /// A field as a client may send it: absent, or any JSON value.
        fn field() -> impl Strategy<Value = Option<Value>> {
            prop_oneof![
                Just(None),
                text().prop_map(|t| Some(Value::from(t))),
                json_value().prop_map(Some),
            ]
        }

        fn storable(text: &str, max_chars: usize) -> bool {
            !text.contains('\0') && text.chars().count() <= max_chars
        }

        proptest! {
            #[test]
            fn new_item_accepts_exactly_what_the_columns_store(
                name in field(),
                description in field(),
                value in field(),
                extra in json_value(),
            ) {
                let mut body = serde_json::Map::new();
                for (key, v) in [("name", &name), ("description", &description), ("value", &value)] {
                    if let Some(v) = v {
                        body.insert(key.into(), v.clone());
                    }
                }
                body.insert("unknown".into(), extra);
                let optional_ok = |f: &Option<Value>, max| match f {
                    None | Some(Value::Null) => true,
                    Some(Value::String(s)) => storable(s, max),
                    Some(_) => false,
                };
                let expected = matches!(&name, Some(Value::String(n)) if !n.trim().is_empty() && storable(n, NAME_MAX_CHARS))
                    && optional_ok(&description, DESCRIPTION_MAX_CHARS)
                    && optional_ok(&value, VALUE_MAX_CHARS);
                match NewItem::from_json(&Value::Object(body)) {
                    Ok(item) => {
                        prop_assert!(expected, "accepted {item:?}");
                        prop_assert_eq!(Some(Value::from(item.name)), name);
                    }
                    Err(e) => {
                        prop_assert!(!expected, "refused a storable item: {e}");
                        prop_assert!(!e.0.is_empty());
                    }
                }
            }

            #[test]
            fn new_item_answers_any_json(body in json_value()) {
                let _ = NewItem::from_json(&body);
            }

            #[test]
            fn page_is_in_range_or_refused(
                pairs in prop::collection::vec(
                    (
                        prop_oneof![Just("limit".to_owned()), Just("offset".to_owned()), "\\PC{0,6}"],
                        prop_oneof![any::<i64>().prop_map(|n| n.to_string()), "\\PC{0,12}"],
                    ),
                    0..4,
                )
            ) {
                let borrowed = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                match Page::from_query(borrowed) {
                    Ok(page) => {
                        prop_assert!((1..=LIMIT_MAX).contains(&page.limit));
                        prop_assert!(page.offset >= 0);
                        let given = |key: &str| pairs.iter().filter(|(k, _)| k == key).count();
                        prop_assert!(given("limit") <= 1 && given("offset") <= 1);
                    }
                    Err(e) => prop_assert!(!e.0.is_empty()),
                }
            }

            #[test]
            fn limit_in_range_is_taken_as_is(limit in 1..=LIMIT_MAX, offset in 0..i64::MAX) {
                let (l, o) = (limit.to_string(), offset.to_string());
                let page = Page::from_query([("limit", l.as_str()), ("offset", o.as_str())]);
                prop_assert_eq!(page, Ok(Page { limit, offset }));
            }

            #[test]
            fn item_ref_parses_digits_and_nothing_else(raw in "\\PC{0,12}|[0-9]{1,12}") {
                match ItemRef::parse(&raw) {
                    Ok(ItemRef::Id(id)) => prop_assert_eq!(id.to_string().parse::<u64>().ok(), raw.parse::<u64>().ok()),
                    Ok(ItemRef::CannotExist) => prop_assert!(raw.parse::<i32>().map_or(true, |n| n <= 0)),
                    Err(_) => prop_assert!(raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit())),
                }
            }
        }
    }
}
