//! Placeholder until the GROK module lands (being written concurrently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrokType { Keyword, Integer, Long, Double, Boolean }
#[derive(Debug, Clone, PartialEq)]
pub enum GrokValue { Keyword(String), Integer(i32), Long(i64), Double(f64), Boolean(bool) }
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("GROK is not available yet")]
pub struct GrokError;
#[derive(Debug, Clone)]
pub struct Grok { columns: Vec<(String, GrokType)> }
impl Grok {
    pub fn new(_pattern: &str) -> Result<Grok, GrokError> { Err(GrokError) }
    pub fn columns(&self) -> &[(String, GrokType)] { &self.columns }
    pub fn apply(&self, _input: &str) -> Option<Vec<Vec<GrokValue>>> { None }
}
