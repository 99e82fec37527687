//! What experiments found: their result files, read for people.

pub mod summary;
