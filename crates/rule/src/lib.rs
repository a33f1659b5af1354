//! modelward rule
