//! `aiaudit report` tests (being written).
