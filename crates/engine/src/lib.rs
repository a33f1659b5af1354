//! modelward engine
