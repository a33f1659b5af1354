//! Masking: API key ids, and anything that looks like a secret, never leave modelward whole.
//! The masking itself is `modelward_event::secret`, the one path every output goes through;
//! this module adds what IoCs need of it (a key id kept whole unless it is a key).
//!
//! [`mask_key`] keeps a short prefix and suffix of a key (`key_vTm2A9Gei4Oi` → `key_vT…4Oi`),
//! enough to tell keys apart and to find the key in the key store, not enough to use it.
//! [`mask_secrets`] finds secret-looking tokens inside any text (a principal, a user agent,
//! an object key) and masks each of them with [`mask_key`].
//!
//! ```
//! use modelward_respond::ioc::{mask_key, mask_secrets};
//!
//! assert_eq!(mask_key("key_vTm2A9Gei4Oi"), "key_vT\u{2026}4Oi");
//! let ua = "python-httpx/0.27 token=sk-proj-Q3xv9LmT7rNcA2bKd8YhW4pE";
//! assert_eq!(mask_secrets(ua), "python-httpx/0.27 token=sk-p\u{2026}pE");
//! ```

use std::borrow::Cow;

/// A key id as the IoCs and reports give it: whole, since a key id is an identifier (the one
/// the responder revokes the key by), not a secret; but a value that looks like a secret
/// itself (a key used as its own id, an `sk-…` key) keeps only a short prefix and suffix
/// ([`mask_key`]): keys are never shown.
pub fn key_id(id: &str) -> String {
    let id = id.trim();
    if looks_like_secret(id) || id.chars().any(char::is_whitespace) {
        mask_key(id)
    } else {
        id.to_string()
    }
}

pub use modelward_event::secret::{looks_like_secret, mask_key};

/// `text` with every secret in it, and every API key id, masked: modelward's one masking
/// path, [`modelward_event::secret::mask_with_key_ids`].
pub fn mask_secrets(text: &str) -> Cow<'_, str> {
    modelward_event::secret::mask_with_key_ids(text)
}

/// An IoC value made safe for output: API key ids as [`key_id`] gives them (a key itself
/// masked), secrets masked in any other value (for IoCs that did not come from [`super::collect`]).
pub fn safe_value<'a>(kind: &str, value: &'a str) -> Cow<'a, str> {
    if kind == "api_key" {
        Cow::Owned(key_id(value))
    } else {
        mask_secrets(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_values_are_key_ids_and_keys_are_masked_on_output() {
        // A key id is the identifier to revoke by; a key is never shown.
        assert_eq!(
            safe_value("api_key", "key_vTm2A9Gei4Oi"),
            "key_vTm2A9Gei4Oi"
        );
        assert_eq!(
            safe_value("api_key", "sk-proj-Q3xv9LmT7rNcA2bKd8YhW4pE"),
            "sk-p…pE"
        );
        assert_eq!(
            safe_value("principal", "alice@example.com"),
            "alice@example.com"
        );
    }
}
