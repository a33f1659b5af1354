//! modelward esql
