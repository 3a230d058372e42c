//! `$context` variables of one request, as API Gateway fills them in gateway
//! response templates and the stage's access-log format (AWS, "Variables for
//! access logging for API Gateway" and "Gateway responses for REST APIs in
//! API Gateway": a gateway response template "supports only simple variable
//! substitution").

use std::collections::BTreeMap;

/// Values by variable name without `$context.` (`requestId`,
/// `authorizer.tenant`, `error.message`, ...).
#[derive(Debug, Clone, Default)]
pub struct ContextVars(BTreeMap<String, String>);

impl ContextVars {
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.insert(name.to_owned(), value.into());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// `template` with every `$context.<name>` replaced by its value,
    /// `missing` for a variable without one, each value passed through
    /// `escape`.
    pub fn render(&self, template: &str, missing: &str, escape: fn(&str) -> String) -> String {
        const MARK: &str = "$context.";
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find(MARK) {
            out.push_str(&rest[..start]);
            let after = &rest[start + MARK.len()..];
            let len = variable_len(after);
            if len == 0 {
                out.push_str(MARK);
            } else {
                match self.get(&after[..len]) {
                    Some(value) => out.push_str(&escape(value)),
                    None => out.push_str(missing),
                }
            }
            rest = &after[len..];
        }
        out.push_str(rest);
        out
    }
}

/// The length of the variable name at the start of `text`: letters, digits,
/// `_`, `-` and inner dots (a trailing dot ends a sentence, not a name).
fn variable_len(text: &str) -> usize {
    let len = text
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .map_or(text.len(), |(i, _)| i);
    text[..len].trim_end_matches('.').len()
}

/// Values inserted as they are.
pub fn verbatim(value: &str) -> String {
    value.to_owned()
}

/// Values escaped for the inside of a JSON string (quotes, backslashes and
/// control characters), so a JSON line stays JSON.
pub fn json_escaped(value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> ContextVars {
        let mut v = ContextVars::default();
        v.set("requestId", "r-1");
        v.set("authorizer.principal_id", "acme/ann");
        v.set("authorizer.principal", "short");
        v.set("error.message", "say \"hi\"");
        v
    }

    #[test]
    fn variables_are_replaced_by_whole_names_and_missing_ones_by_the_placeholder() {
        let out = vars().render(
            r#"{"id":"$context.requestId","p":"$context.authorizer.principal_id","t":"$context.authorizer.tenant"} at $context.requestId."#,
            "-",
            verbatim,
        );
        assert_eq!(out, r#"{"id":"r-1","p":"acme/ann","t":"-"} at r-1."#);
    }

    #[test]
    fn json_escaping_keeps_a_line_json() {
        let out = vars().render(r#"{"m":"$context.error.message"}"#, "", json_escaped);
        assert_eq!(out, r#"{"m":"say \"hi\""}"#);
        assert_eq!(
            vars().render("cost $5 and $context.", "", verbatim),
            "cost $5 and $context."
        );
    }
}
