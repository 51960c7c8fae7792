//! Red, black, watch and grey lists: entries, the in-memory index, where lists come from
//! (`source`: a file or Redis), the fail-closed guard on loads and the synthetic-population
//! generator.

mod entry;
mod file;
pub mod gen;
mod guard;
mod index;
pub mod source;
mod text;

pub use entry::{
    Dispute, Entry, EntryError, EntryRecord, EntryRef, Facts, Named, ResponsiblePerson,
    ResponsiblePersonRecord, Status,
};
pub use file::{load_embedded, load_file, parse_entries, read_file, LineProblem, ListFileError};
pub use guard::{ListShrink, Refusal, Shrink, ShrinkGuard};
pub use index::{Entries, ListIndex, SnapshotFileError};
pub use text::TextError;
