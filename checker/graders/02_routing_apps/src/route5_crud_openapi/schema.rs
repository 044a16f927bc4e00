//! A small JSON Schema validator: the subset an OpenAPI 3.0 or 3.1 document uses to describe JSON bodies.
//!
//! Supported: local `$ref` (`#/components/schemas/Name`), `type` (a name or a list; `integer` is a number
//! without a fraction), `nullable` (3.0), `enum`, `const`, `properties`, `required`, `additionalProperties`
//! (`false` or a schema), `items`, `minItems`, `maxItems`, `minLength`, `maxLength` (in characters),
//! `minimum`, `maximum`, `allOf`, `anyOf`, `oneOf`, `not`. Other keywords (`pattern`, `format`, …) are
//! ignored: ignoring one can only accept more, never reject a body that is right.

use serde_json::Value;

/// Nesting beyond this is a `$ref` cycle.
const MAX_DEPTH: usize = 64;

/// A validator over one OpenAPI document (for its `$ref`s).
pub struct Validator<'a> {
    document: &'a Value,
}

impl<'a> Validator<'a> {
    /// A validator resolving `$ref`s in `document`.
    pub fn new(document: &'a Value) -> Self {
        Validator { document }
    }

    /// `Ok` when `instance` matches `schema`, else the first mismatch as `(pointer into the instance, why)`.
    pub fn validate(&self, schema: &Value, instance: &Value) -> Result<(), (String, String)> {
        self.check(schema, instance, "", 0)
    }

    /// Follows `$ref`s until a schema without one.
    pub fn resolve(&self, schema: &'a Value) -> Result<&'a Value, String> {
        let mut schema = schema;
        for _ in 0..MAX_DEPTH {
            match schema.get("$ref").and_then(Value::as_str) {
                None => return Ok(schema),
                Some(reference) => {
                    let pointer = reference.strip_prefix('#').ok_or_else(|| {
                        format!("`$ref: {reference}` is not a reference into this document")
                    })?;
                    schema = self.document.pointer(pointer).ok_or_else(|| {
                        format!("`$ref: {reference}` points at nothing in the document")
                    })?;
                }
            }
        }
        Err("a `$ref` cycle".into())
    }

    fn check(
        &self,
        schema: &Value,
        instance: &Value,
        at: &str,
        depth: usize,
    ) -> Result<(), (String, String)> {
        let fail = |why: String| Err((at.to_string(), why));
        if depth > MAX_DEPTH {
            return fail("the schema nests too deep (a `$ref` cycle?)".into());
        }
        match schema {
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => return fail("the schema is `false`: nothing matches".into()),
            Value::Object(_) => {}
            _ => return fail(format!("{schema} is not a schema")),
        }
        if let Some(reference) = schema.get("$ref") {
            let target = self.resolve(schema).map_err(|why| (at.to_string(), why))?;
            let _ = reference;
            self.check(target, instance, at, depth + 1)?;
        }
        let nullable = schema.get("nullable") == Some(&Value::Bool(true));
        if instance.is_null() && nullable {
            return Ok(());
        }
        if let Some(types) = schema.get("type") {
            let names: Vec<&str> = match types {
                Value::String(name) => vec![name.as_str()],
                Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !names.iter().any(|name| has_type(instance, name)) {
                return fail(format!("{} is not of type {}", short(instance), types));
            }
        }
        if let Some(Value::Array(options)) = schema.get("enum")
            && !options.contains(instance)
        {
            return fail(format!(
                "{} is not one of {}",
                short(instance),
                Value::Array(options.clone())
            ));
        }
        if let Some(constant) = schema.get("const")
            && constant != instance
        {
            return fail(format!("{} is not {constant}", short(instance)));
        }
        self.check_object(schema, instance, at, depth)?;
        self.check_array(schema, instance, at, depth)?;
        check_bounds(schema, instance).map_err(|why| (at.to_string(), why))?;
        if let Some(Value::Array(all)) = schema.get("allOf") {
            for part in all {
                self.check(part, instance, at, depth + 1)?;
            }
        }
        if let Some(Value::Array(any)) = schema.get("anyOf")
            && !any
                .iter()
                .any(|part| self.check(part, instance, at, depth + 1).is_ok())
        {
            return fail(format!("{} matches none of `anyOf`", short(instance)));
        }
        if let Some(Value::Array(one)) = schema.get("oneOf") {
            let matching = one
                .iter()
                .filter(|part| self.check(part, instance, at, depth + 1).is_ok())
                .count();
            if matching != 1 {
                return fail(format!(
                    "{} matches {matching} of `oneOf`, not exactly 1",
                    short(instance)
                ));
            }
        }
        if let Some(not) = schema.get("not")
            && self.check(not, instance, at, depth + 1).is_ok()
        {
            return fail(format!("{} matches `not`", short(instance)));
        }
        Ok(())
    }

    fn check_object(
        &self,
        schema: &Value,
        instance: &Value,
        at: &str,
        depth: usize,
    ) -> Result<(), (String, String)> {
        let Value::Object(object) = instance else {
            return Ok(());
        };
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    return Err((
                        at.to_string(),
                        format!("the required member `{name}` is missing"),
                    ));
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, value) in object {
            let inner = format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"));
            match properties.and_then(|p| p.get(name)) {
                Some(property) => self.check(property, value, &inner, depth + 1)?,
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        return Err((
                            inner,
                            format!(
                                "the member `{name}` is not allowed (additionalProperties: false)"
                            ),
                        ));
                    }
                    Some(extra @ Value::Object(_)) => {
                        self.check(extra, value, &inner, depth + 1)?
                    }
                    _ => {}
                },
            }
        }
        Ok(())
    }

    fn check_array(
        &self,
        schema: &Value,
        instance: &Value,
        at: &str,
        depth: usize,
    ) -> Result<(), (String, String)> {
        let Value::Array(elements) = instance else {
            return Ok(());
        };
        let count = elements.len() as u64;
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && count < min
        {
            return Err((
                at.to_string(),
                format!("{count} elements, fewer than minItems {min}"),
            ));
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && count > max
        {
            return Err((
                at.to_string(),
                format!("{count} elements, more than maxItems {max}"),
            ));
        }
        if let Some(items) = schema
            .get("items")
            .filter(|items| items.is_object() || items.is_boolean())
        {
            for (index, element) in elements.iter().enumerate() {
                self.check(items, element, &format!("{at}/{index}"), depth + 1)?;
            }
        }
        Ok(())
    }
}

fn check_bounds(schema: &Value, instance: &Value) -> Result<(), String> {
    if let Value::String(text) = instance {
        let length = text.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && length < min
        {
            return Err(format!(
                "a string of {length} characters, shorter than minLength {min}"
            ));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && length > max
        {
            return Err(format!(
                "a string of {length} characters, longer than maxLength {max}"
            ));
        }
    }
    if let Some(number) = instance.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && number < min
        {
            return Err(format!("{number} is below minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && number > max
        {
            return Err(format!("{number} is above maximum {max}"));
        }
    }
    Ok(())
}

fn has_type(instance: &Value, name: &str) -> bool {
    match name {
        "null" => instance.is_null(),
        "boolean" => instance.is_boolean(),
        "object" => instance.is_object(),
        "array" => instance.is_array(),
        "string" => instance.is_string(),
        "number" => instance.is_number(),
        "integer" => {
            instance.is_i64()
                || instance.is_u64()
                || instance.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn short(value: &Value) -> String {
    crate::support::clip(&value.to_string(), 80)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn validates_refs_types_and_members() {
        let document = json!({"components": {"schemas": {"Item": {
            "type": "object", "required": ["id"], "additionalProperties": false,
            "properties": {"id": {"type": "integer"}, "note": {"type": ["string", "null"], "maxLength": 3}}
        }}}});
        let validator = Validator::new(&document);
        let schema = json!({"type": "array", "items": {"$ref": "#/components/schemas/Item"}});
        assert!(
            validator
                .validate(
                    &schema,
                    &json!([{"id": 1, "note": null}, {"id": 2, "note": "abc"}])
                )
                .is_ok()
        );
        assert_eq!(
            validator
                .validate(&schema, &json!([{"id": 1}, {"id": "2"}]))
                .unwrap_err()
                .0,
            "/1/id"
        );
        assert!(
            validator
                .validate(&schema, &json!([{"id": 1, "x": 1}]))
                .is_err()
        );
        assert!(
            validator
                .validate(&schema, &json!([{"note": "a"}]))
                .is_err()
        );
        assert!(
            validator
                .validate(&schema, &json!([{"id": 1, "note": "abcd"}]))
                .is_err()
        );
    }

    #[test]
    fn openapi_30_nullable_and_all_of() {
        let document = json!({});
        let validator = Validator::new(&document);
        let schema = json!({"allOf": [{"type": "string", "nullable": true}]});
        assert!(validator.validate(&schema, &Value::Null).is_ok());
        assert!(validator.validate(&schema, &json!(5)).is_err());
    }
}
