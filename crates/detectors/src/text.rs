//! The text of an LLM call, as detectors read it: the prompt (what the user or the
//! application sent) and the completion (what the model answered), from the OpenTelemetry
//! GenAI fields normalizers write (`gen_ai.prompt`, `gen_ai.completion`), where a field may
//! be a string, a list of strings, or chat messages (`[{"role": ..., "content": ...}]`).

use modelward_event::Event;
use serde_json::Value;

/// Which side of the conversation a text is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Prompt,
    Completion,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Prompt => "prompt",
            Role::Completion => "completion",
        }
    }
}

/// The texts of one LLM call.
#[derive(Debug, Clone, Default)]
pub struct LlmText<'e> {
    pub prompt: Vec<&'e str>,
    pub completion: Vec<&'e str>,
}

/// The texts of a prompt or completion value: strings, lists, chat messages and content parts.
pub(crate) fn collect<'e>(value: &'e Value, out: &mut Vec<&'e str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Object(map) => {
            // Chat messages and content parts: {"content": "..."} or {"text": "..."}.
            for key in ["content", "text"] {
                if let Some(v) = map.get(key) {
                    collect(v, out);
                }
            }
        }
        _ => {}
    }
}

impl<'e> LlmText<'e> {
    /// The texts of an event (empty when it is not an LLM call).
    pub fn of(event: &'e Event) -> LlmText<'e> {
        let mut text = LlmText::default();
        for v in event.get("gen_ai.prompt") {
            collect(v, &mut text.prompt);
        }
        for v in event.get("gen_ai.completion") {
            collect(v, &mut text.completion);
        }
        text
    }

    pub fn is_empty(&self) -> bool {
        self.prompt.is_empty() && self.completion.is_empty()
    }

    /// Every text with its role.
    pub fn all(&self) -> impl Iterator<Item = (Role, &'e str)> + '_ {
        self.prompt
            .iter()
            .map(|t| (Role::Prompt, *t))
            .chain(self.completion.iter().map(|t| (Role::Completion, *t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_lists_and_chat_messages() {
        let e = Event::from_json(r#"{"gen_ai":{"prompt":[{"role":"system","content":"be nice"},{"role":"user","content":[{"type":"text","text":"hello"}]}],"completion":"hi"}}"#).unwrap();
        let t = LlmText::of(&e);
        assert_eq!(t.prompt, vec!["be nice", "hello"]);
        assert_eq!(t.completion, vec!["hi"]);
        assert!(LlmText::of(&Event::from_json("{}").unwrap()).is_empty());
    }
}
