//! The read side's tables and the control plane's bookkeeping live in
//! numbered SQL migrations under `schema/migrations`, embedded here so every
//! binary and test applies exactly the same schema.

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
