//! JSON parsing that refuses what `serde_json` silently accepts: duplicate member names (where two
//! parsers could disagree on which value counts, RFC 8725 section 3.1) at any depth.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum StrictJsonError {
    #[error("not valid JSON")]
    Syntax,
    #[error("duplicate member name")]
    DuplicateMember,
    #[error("not a JSON object")]
    NotAnObject,
}

/// Parses `bytes` as a JSON object, rejecting duplicate member names anywhere inside it.
pub fn parse_strict_object(bytes: &[u8]) -> Result<Map<String, Value>, StrictJsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = match StrictValue::deserialize(&mut deserializer) {
        Ok(StrictValue(value)) => value,
        Err(error) if error.to_string().starts_with(DUPLICATE) => {
            return Err(StrictJsonError::DuplicateMember);
        }
        Err(_) => return Err(StrictJsonError::Syntax),
    };
    deserializer.end().map_err(|_| StrictJsonError::Syntax)?;
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(StrictJsonError::NotAnObject),
    }
}

const DUPLICATE: &str = "duplicate member";

struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(StrictValue(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictValue, A::Error> {
        let mut object = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if object.contains_key(&name) {
                return Err(de::Error::custom(DUPLICATE));
            }
            let StrictValue(value) = map.next_value()?;
            object.insert(name, value);
        }
        Ok(StrictValue(Value::Object(object)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_objects() {
        let object = parse_strict_object(br#"{"a":1,"b":{"c":[1,"x",null]}}"#).unwrap();
        assert_eq!(object["b"]["c"][1], "x");
    }

    #[test]
    fn rejects_duplicates_at_any_depth() {
        for input in [
            &br#"{"a":1,"a":2}"#[..],
            br#"{"b":{"c":1,"c":1}}"#,
            br#"{"l":[{"x":1,"x":2}]}"#,
        ] {
            assert!(matches!(
                parse_strict_object(input),
                Err(StrictJsonError::DuplicateMember)
            ));
        }
    }

    #[test]
    fn rejects_non_objects_and_trailing_data() {
        assert!(matches!(
            parse_strict_object(b"[1]"),
            Err(StrictJsonError::NotAnObject)
        ));
        assert!(matches!(
            parse_strict_object(b"{} {}"),
            Err(StrictJsonError::Syntax)
        ));
        assert!(matches!(
            parse_strict_object(b"{\"a\":\"\xff\"}"),
            Err(StrictJsonError::Syntax)
        ));
        assert!(matches!(
            parse_strict_object(br#"{"a":"\ud800"}"#),
            Err(StrictJsonError::Syntax)
        ));
    }
}
