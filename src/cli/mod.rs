//! The commands of the `seqspool` binary besides serving: `seqspool user`
//! (the lab's users) and `seqspool retention` (what a sweep would remove).
//! They sit above the rooms they use, so that no room of the server imports
//! the command line, and only the binary imports them.

pub mod retention;
pub mod user;
