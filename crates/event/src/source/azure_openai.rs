//! Azure OpenAI normalizer (in progress).
