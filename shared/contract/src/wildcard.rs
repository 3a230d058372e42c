//! IAM's resource wildcards, as API Gateway applies them to the policy an
//! authorizer returns (AWS, "IAM JSON policy elements: Resource"): `*` stands
//! for any run of zero or more characters, `?` for exactly one character.
//! Neither stops at `/` or `:`, and the match is case-sensitive.
//!
//! Characters, not bytes: a `?` takes one character even when UTF-8 needs
//! several bytes for it (a path segment percent-decoded by API Gateway may
//! hold any). The same rule matches binary media types
//! (`x-amazon-apigateway-binary-media-types`: `image/*`).

/// Whether `text` matches `pattern` with IAM's `*` and `?` wildcards.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        // One byte is one character: no need to decode.
        return matches(pattern.as_bytes(), text.as_bytes(), b'*', b'?');
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    matches(&p, &t, '*', '?')
}

/// The greedy match with backtracking to the last `*`: linear in practice,
/// never recursive.
fn matches<T: Copy + PartialEq>(p: &[T], t: &[T], any_run: T, any_one: T) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    // The last `*` seen and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == any_one || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == any_run {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == any_run {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/local/GET/v1/jobs/42";

    #[test]
    fn a_star_stands_for_any_run_of_characters_slashes_and_colons_included() {
        assert!(wildcard_match("*", ARN));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match(
            "arn:aws:execute-api:*:*:abc123/*/GET/v1/jobs/*",
            ARN
        ));
        assert!(wildcard_match("arn:*/42", ARN));
        assert!(wildcard_match("GET/v1/services/*", "GET/v1/services/a/b/c"));
        assert!(wildcard_match("a**b", "ab"));
    }

    #[test]
    fn a_question_mark_stands_for_exactly_one_character() {
        assert!(wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/local/GET/v1/jobs/4?",
            ARN
        ));
        assert!(!wildcard_match("GET/v1/jobs/?", "GET/v1/jobs/42"));
        assert!(!wildcard_match("GET/v1/jobs/??", "GET/v1/jobs/4"));
    }

    /// IAM counts characters: a `?` takes `é` (two bytes in UTF-8) or `日`
    /// (three) whole, and never half of one.
    #[test]
    fn a_question_mark_takes_one_character_however_many_bytes_it_has() {
        assert!(wildcard_match("GET/v1/files/caf?", "GET/v1/files/café"));
        assert!(wildcard_match("GET/v1/files/?", "GET/v1/files/日"));
        assert!(!wildcard_match("GET/v1/files/??", "GET/v1/files/é"));
        assert!(!wildcard_match("GET/v1/files/???", "GET/v1/files/日"));
        assert!(wildcard_match("GET/v1/files/*é", "GET/v1/files/café"));
    }

    #[test]
    fn everything_else_must_be_equal_letter_case_included() {
        assert!(!wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/local/POST/*",
            ARN
        ));
        assert!(!wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/local/GET/v1/jobs/4",
            ARN
        ));
        assert!(!wildcard_match("get/v1/jobs/*", "GET/v1/jobs/42"));
        assert!(!wildcard_match("", "x"));
        assert!(wildcard_match("", ""));
    }
}
