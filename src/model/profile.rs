//! Building `google.protobuf.Struct` profiles from JSON values (numbers become doubles, as Go's
//! `structpb.NewStruct` does), and converting them back for display.

use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value};
use serde_json::Value as Json;

/// Converts a JSON value into a protobuf `Value`.
pub fn to_value(v: &Json) -> Value {
    let kind = match v {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(*b),
        Json::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Json::String(s) => Kind::StringValue(s.clone()),
        Json::Array(items) => Kind::ListValue(ListValue {
            values: items.iter().map(to_value).collect(),
        }),
        Json::Object(map) => Kind::StructValue(Struct {
            fields: map.iter().map(|(k, v)| (k.clone(), to_value(v))).collect(),
        }),
    };
    Value { kind: Some(kind) }
}

/// Converts a JSON object into a protobuf `Struct`; non-objects give an empty struct.
pub fn to_struct(v: &Json) -> Struct {
    match to_value(v).kind {
        Some(Kind::StructValue(s)) => s,
        _ => Struct::default(),
    }
}

/// Converts a protobuf `Value` back to JSON (whole-number doubles print as integers).
pub fn from_value(v: &Value) -> Json {
    match &v.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => Json::Bool(*b),
        Some(Kind::NumberValue(n)) => {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                Json::from(*n as i64)
            } else {
                serde_json::Number::from_f64(*n)
                    .map(Json::Number)
                    .unwrap_or(Json::Null)
            }
        }
        Some(Kind::StringValue(s)) => Json::String(s.clone()),
        Some(Kind::ListValue(l)) => Json::Array(l.values.iter().map(from_value).collect()),
        Some(Kind::StructValue(s)) => from_struct(s),
    }
}

/// Converts a protobuf `Struct` back to a JSON object.
pub fn from_struct(s: &Struct) -> Json {
    Json::Object(
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), from_value(v)))
            .collect(),
    )
}

/// Reads a string field of a profile.
pub fn get_str<'a>(s: &'a Struct, key: &str) -> Option<&'a str> {
    match s.fields.get(key).and_then(|v| v.kind.as_ref()) {
        Some(Kind::StringValue(v)) => Some(v.as_str()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn struct_round_trip_keeps_types() {
        let j = json!({"a": "x", "n": 3600, "f": 1.5, "b": true, "l": [1, "y"], "o": {"k": null}});
        let s = to_struct(&j);
        assert_eq!(from_struct(&s), j);
        assert_eq!(get_str(&s, "a"), Some("x"));
        assert_eq!(get_str(&s, "n"), None);
    }
}
